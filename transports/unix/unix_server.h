#pragma once
#include "transports/peer_options.h"
namespace interop {
// The C++ peer's Unix socket server: binds options.address (0600), serves, unlinks it.
int ServeUnixSocket(const PeerOptions& options);
}  // namespace interop
