#pragma once
#include "transports/peer_options.h"
namespace interop {
// The C++ peer on a handoff directory: answers req-ID.json with rep-ID.json.
int ServeFileHandoff(const PeerOptions& options);
}  // namespace interop
