#include "transports/tcp/tcp_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "transports/raw_stream/raw_stream_server.h"
#include "transports/tcp/tcp_address.h"

namespace interop {

int ServeTcp(const PeerOptions& options) {
  std::string host;
  int port = 0;
  if (!ParseListenAddress(options.address, &host, &port)) return 2;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "cpp peer: not an IPv4 address: %s\n", host.c_str());
    return 2;
  }
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  // Accepted sockets inherit TCP_NODELAY from the listener on Linux.
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd, 64) != 0) {
    std::perror(("cpp peer: cannot listen on " + options.address).c_str());
    return 1;
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int rc = ServeConnections(fd, host + ":" + std::to_string(ntohs(addr.sin_port)), options);
  ::close(fd);
  return rc;
}

}  // namespace interop
