#include "transports/unix/unix_client.h"

#include "transports/codec/codec.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "common/fd_io.h"
#include "transports/raw_stream/raw_stream_client.h"

namespace interop {
namespace {

int ConnectUnixSocket(const PeerEndpoint& peer) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (peer.address.size() >= sizeof addr.sun_path) {
      throw TransportError("unix socket path too long: " + peer.address);
    }
    std::memcpy(addr.sun_path, peer.address.c_str(), peer.address.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw TransportError(ErrnoMessage("socket(AF_UNIX)"));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      const std::string msg = ErrnoMessage("connect to " + peer.address);
      CloseFd(fd);
      throw TransportError(msg);
    }
    return fd;
}

class UnixSocketClient final : public RawStreamClient {
 public:
  using RawStreamClient::RawStreamClient;
  void Open(const PeerEndpoint& peer) override {
    const int fd = ConnectUnixSocket(peer);
    Attach(fd, fd, /*owns_fds=*/true);
  }
};

}  // namespace

TransportSpec UnixSocketTransport() {
  return {
      .name = "unix",
      .tier = "4",
      .default_codec = "raw",
      .summary = "Unix domain stream socket, raw binary frames",
      .wait_style = WaitStyle::kBlocking,
      .peer_uses_stdio = false,
      .listen_address = [](const AddressContext& where) {
        return where.run_dir + "/" + where.tag + ".sock";
      },
      .make_client = [](PeerKind, ClientMode mode, Codec codec) -> std::unique_ptr<Transport> {
        return std::make_unique<UnixSocketClient>(mode, codec);
      },
      .too_large = [](const Request& message, Codec codec) { return MessageTooLarge(codec, message, /*framed=*/true); },
      .overlaps = "pipelined frames on the one stream, each reply matched by its id",
      .codecs = {Codec::kRaw, Codec::kJson, Codec::kProtobuf},
      .bytes_counted = "the frames the client writes and reads (header and payload)",
  };
}

}  // namespace interop
