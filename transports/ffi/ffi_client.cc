#include "transports/ffi/ffi_client.h"

#include "transports/ffi/batch_arrays.h"
#include "transports/ffi/embedded.h"
#include "transports/ffi/native_boundary.h"

namespace interop {
namespace {

void* g_stack_base = nullptr;

class NativeCallClient final : public Transport {
 public:
  explicit NativeCallClient(ClientMode mode) : echo_(mode == ClientMode::kEcho) {}
  void Open(const PeerEndpoint&) override {}
  void Call(const Request& r, Reply& reply) override {
    reply.id = r.id;  // an in-process call has no wire to carry the id
    if (r.is_batch()) return CallBatch(r, reply);
    if (echo_) {
      const bool same = r.op == Op::kAdd ? NativeEcho(r.x, r.y) == r.x
                                         : NativeEcho(r.features, r.model) == r.features.data();
      if (same) reply.kind = ReplyKind::kEcho;
      else reply.error = "the echo returned something else than its first argument";
    } else if (r.op == Op::kAdd) {
      reply.result = NativeAdd(r.x, r.y);
      reply.kind = ReplyKind::kAdd;
    } else {
      const ScoreResult s = NativeScore(r.features, r.model);
      reply.score = s.score;
      reply.label.assign(s.label);
      reply.kind = ReplyKind::kScore;
    }
  }

 private:
  // One call with the batch's arrays; the loop runs on the callee's side.
  void CallBatch(const Request& r, Reply& reply) {
    if (std::string bad = arrays_.Gather(r); !bad.empty()) {
      reply.error = std::move(bad);
      return;
    }
    const std::size_t b = arrays_.size();
    if (echo_) {
      const void* first = arrays_.op == Op::kAdd ? static_cast<const void*>(arrays_.xs.data())
                                                 : static_cast<const void*>(arrays_.features.data());
      if (NativeEchoBatch(first, arrays_.op == Op::kAdd ? static_cast<const void*>(arrays_.ys.data())
                                                        : static_cast<const void*>(arrays_.models.data())) == first) {
        reply.kind = ReplyKind::kEcho;
      } else {
        reply.error = "the echo returned something else than its first argument";
      }
      return;
    }
    reply.kind = ReplyKind::kBatch;
    if (arrays_.op == Op::kAdd) {
      results_.resize(b);
      NativeAddBatch(arrays_.xs, arrays_.ys, results_);
      for (int64_t v : results_) {
        Reply& item = reply.AddItem();
        item.result = v;
        item.kind = ReplyKind::kAdd;
      }
    } else {
      scores_.resize(b);
      NativeScoreBatch(arrays_.features, arrays_.n, arrays_.models, scores_);
      for (const ScoreResult& s : scores_) {
        Reply& item = reply.AddItem();
        item.score = s.score;
        item.label.assign(s.label);
        item.kind = ReplyKind::kScore;
      }
    }
  }

  bool echo_;
  BatchArrays arrays_;
  std::vector<int64_t> results_;
  std::vector<ScoreResult> scores_;
};

}  // namespace

void RecordStackBase(void* address_in_main_frame) { g_stack_base = address_in_main_frame; }
void* RecordedStackBase() { return g_stack_base; }

std::unique_ptr<Transport> MakeNativeCallClient(ClientMode mode) { return std::make_unique<NativeCallClient>(mode); }

TransportSpec FfiTransport() {
  return {
      .name = "ffi",
      .tier = "1-3",
      .default_codec = "none",
      .summary = "in-process call: C++ direct, CPython via pybind11, CRuby via libruby",
      .wait_style = WaitStyle::kInProcess,
      .peer_uses_stdio = false,
      .listen_address = [](const AddressContext&) { return std::string("-"); },
      .make_client = [](PeerKind peer, ClientMode mode, Codec) -> std::unique_ptr<Transport> {
        switch (peer) {
          case PeerKind::kCpp: return MakeNativeCallClient(mode);
          case PeerKind::kPython: return MakeEmbeddedPythonClient(mode);
          case PeerKind::kRuby: return MakeEmbeddedRubyClient(mode);
        }
        return nullptr;
      },
  };
}

}  // namespace interop
