#pragma once
#include "transports/registry.h"
namespace interop {
// Tier 4/5: TCP over loopback (127.0.0.1) with TCP_NODELAY, raw frames.
TransportSpec TcpTransport();
}  // namespace interop
