#include "transports/unix/unix_server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "transports/raw_stream/raw_stream_server.h"

namespace interop {

int ServeUnixSocket(const PeerOptions& options) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (options.address.empty() || options.address.size() >= sizeof addr.sun_path) {
    std::fprintf(stderr, "cpp peer: unix socket path empty or too long: '%s'\n", options.address.c_str());
    return 2;
  }
  std::memcpy(addr.sun_path, options.address.c_str(), options.address.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const mode_t old_mask = ::umask(0077);  // the socket file is created 0600
  const int bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old_mask);
  if (fd < 0 || bound != 0 || ::listen(fd, 64) != 0) {
    std::perror(("cpp peer: cannot listen on " + options.address).c_str());
    return 1;
  }
  const int rc = ServeConnections(fd, options.address, options);
  ::close(fd);
  ::unlink(options.address.c_str());
  return rc;
}

}  // namespace interop
