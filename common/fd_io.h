// Small blocking-I/O helpers shared by the transports and the C++ peer.
#pragma once

#include <cstddef>
#include <string>

namespace interop {

// Writes all n bytes, retrying short writes and EINTR. Returns false on error
// (errno is kept). Processes that use it ignore SIGPIPE, so a gone reader is EPIPE.
bool WriteFull(int fd, const void* data, std::size_t n);

// "what: strerror(errno)".
std::string ErrnoMessage(const std::string& what);

// Closes fd if >= 0 and sets it to -1.
void CloseFd(int& fd);

}  // namespace interop
