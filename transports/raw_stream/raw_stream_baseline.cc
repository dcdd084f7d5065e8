#include "transports/raw_stream/raw_stream_baseline.h"

#include <unistd.h>

#include <cerrno>
#include <memory>

#include "common/fd_io.h"

namespace interop {
namespace {

// Owns (or not) the two fds for as long as the round-trip function lives.
struct Fds {
  Fds(int r, int w, bool o) : read_fd(r), write_fd(w), owned(o) {}
  Fds(const Fds&) = delete;
  Fds& operator=(const Fds&) = delete;
  int read_fd, write_fd;
  bool owned;
  ~Fds() {
    if (!owned) return;
    if (write_fd != read_fd) CloseFd(write_fd);
    CloseFd(read_fd);
  }
};

bool ReadExactly(int fd, uint8_t* p, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r > 0) {
      p += r;
      n -= static_cast<std::size_t>(r);
    } else if (r == 0 || errno != EINTR) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::function<bool()> RawPingPong(int read_fd, int write_fd, bool owns_fds, const std::vector<uint8_t>& frame) {
  auto fds = std::make_shared<Fds>(read_fd, write_fd, owns_fds);
  auto back = std::make_shared<std::vector<uint8_t>>(frame.size());
  return [fds, back, frame] {
    return WriteFull(fds->write_fd, frame.data(), frame.size()) &&
           ReadExactly(fds->read_fd, back->data(), back->size()) && *back == frame;
  };
}

}  // namespace interop
