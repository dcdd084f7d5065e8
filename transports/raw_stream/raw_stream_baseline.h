// The hand-written ping-pong baseline for byte-stream transports: write the
// request frame, read exactly as many bytes back (the peer echoes them).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace interop {

// owns_fds: close them when the returned function is destroyed.
std::function<bool()> RawPingPong(int read_fd, int write_fd, bool owns_fds, const std::vector<uint8_t>& frame);

}  // namespace interop
