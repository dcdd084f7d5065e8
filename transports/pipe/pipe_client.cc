#include "transports/pipe/pipe_client.h"

#include "transports/codec/codec.h"

#include "transports/raw_stream/raw_stream_client.h"

namespace interop {
namespace {

class StdioPipeClient final : public RawStreamClient {
 public:
  using RawStreamClient::RawStreamClient;
  void Open(const PeerEndpoint& peer) override {
    if (peer.to_peer_fd < 0 || peer.from_peer_fd < 0) {
      throw TransportError("pipe transport needs the peer's stdin and stdout");
    }
    // The pipes belong to the peer process: closing them is its lifecycle's job.
    Attach(peer.from_peer_fd, peer.to_peer_fd, /*owns_fds=*/false);
  }
};

}  // namespace

TransportSpec PipeTransport() {
  return {
      .name = "pipe",
      .tier = "4",
      .default_codec = "raw",
      .summary = "the peer's stdin/stdout as a parent/child pipe, raw binary frames",
      .wait_style = WaitStyle::kBlocking,
      .peer_uses_stdio = true,
      .listen_address = [](const AddressContext&) { return std::string("-"); },
      .make_client = [](PeerKind, ClientMode mode, Codec codec) -> std::unique_ptr<Transport> {
        return std::make_unique<StdioPipeClient>(mode, codec);
      },
      .too_large = [](const Request& message, Codec codec) { return MessageTooLarge(codec, message, /*framed=*/true); },
      .overlaps = "pipelined frames on the one stream, each reply matched by its id",
      .codecs = {Codec::kRaw, Codec::kJson, Codec::kProtobuf},
      .bytes_counted = "the frames the client writes and reads (header and payload)",
  };
}

}  // namespace interop
