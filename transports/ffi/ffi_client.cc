#include "transports/ffi/ffi_client.h"

#include "transports/ffi/embedded.h"
#include "transports/ffi/native_boundary.h"

namespace interop {
namespace {

void* g_stack_base = nullptr;

class NativeCallClient final : public Transport {
 public:
  void Open(const PeerEndpoint&) override {}
  void Call(const Request& r, Reply& reply) override {
    reply.id = r.id;  // an in-process call has no wire to carry the id
    if (r.op == Op::kAdd) {
      reply.result = NativeAdd(r.x, r.y);
    } else {
      const ScoreResult s = NativeScore(r.features, r.model);
      reply.score = s.score;
      reply.label.assign(s.label);
    }
  }
};

}  // namespace

void RecordStackBase(void* address_in_main_frame) { g_stack_base = address_in_main_frame; }
void* RecordedStackBase() { return g_stack_base; }

std::unique_ptr<Transport> MakeNativeCallClient() { return std::make_unique<NativeCallClient>(); }

TransportSpec FfiTransport() {
  return {
      .name = "ffi",
      .tier = "1-3",
      .default_codec = "none",
      .summary = "in-process call: C++ direct, CPython via pybind11, CRuby via libruby",
      .wait_style = WaitStyle::kInProcess,
      .peer_uses_stdio = false,
      .listen_address = [](const AddressContext&) { return std::string("-"); },
      .make_client = [](PeerKind peer) -> std::unique_ptr<Transport> {
        switch (peer) {
          case PeerKind::kCpp: return MakeNativeCallClient();
          case PeerKind::kPython: return MakeEmbeddedPythonClient();
          case PeerKind::kRuby: return MakeEmbeddedRubyClient();
        }
        return nullptr;
      },
  };
}

}  // namespace interop
