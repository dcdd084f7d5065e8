#include "transports/tcp/tcp_client.h"

#include "transports/codec/codec.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/fd_io.h"
#include "transports/raw_stream/raw_stream_client.h"
#include "transports/tcp/tcp_address.h"

namespace interop {

namespace {

int ConnectTcp(const PeerEndpoint& peer) {
    std::string host;
    int port = 0;
    ParseHostPort(peer.address, &host, &port);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
      throw TransportError("not an IPv4 address: " + host);
    }
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw TransportError(ErrnoMessage("socket(AF_INET)"));
    // Without TCP_NODELAY, Nagle holds small frames back for an ACK.
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      const std::string msg = ErrnoMessage("connect to " + peer.address);
      CloseFd(fd);
      throw TransportError(msg);
    }
    return fd;
}

class TcpClient final : public RawStreamClient {
 public:
  using RawStreamClient::RawStreamClient;
  void Open(const PeerEndpoint& peer) override {
    const int fd = ConnectTcp(peer);
    Attach(fd, fd, /*owns_fds=*/true);
  }
};

}  // namespace

TransportSpec TcpTransport() {
  return {
      .name = "tcp",
      .tier = "4/5",
      .default_codec = "raw",
      .summary = "TCP over 127.0.0.1 with TCP_NODELAY, raw binary frames",
      .wait_style = WaitStyle::kBlocking,
      .peer_uses_stdio = false,
      .listen_address = [](const AddressContext&) {
        return std::string("127.0.0.1:0");  // the peer picks a free port and says which
      },
      .make_client = [](PeerKind, ClientMode mode, Codec codec) -> std::unique_ptr<Transport> {
        return std::make_unique<TcpClient>(mode, codec);
      },
      .too_large = [](const Request& message, Codec codec) { return MessageTooLarge(codec, message, /*framed=*/true); },
      .overlaps = "pipelined frames on the one stream, each reply matched by its id",
      .codecs = {Codec::kRaw, Codec::kJson, Codec::kProtobuf},
      .bytes_counted = "the frames the client writes and reads (header and payload)",
  };
}

}  // namespace interop
