#pragma once
#include "transports/peer_options.h"
namespace interop {
// The C++ peer's TCP server on 127.0.0.1 (port 0: any free one, announced in READY).
int ServeTcp(const PeerOptions& options);
}  // namespace interop
