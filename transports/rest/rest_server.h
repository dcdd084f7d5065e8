#pragma once
#include "transports/peer_options.h"
namespace interop {
// The C++ peer's REST server (cpp-httplib): POST /add, POST /score, GET /health.
int ServeRest(const PeerOptions& options);
}  // namespace interop
