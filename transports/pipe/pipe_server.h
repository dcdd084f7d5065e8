#pragma once
#include "transports/peer_options.h"
namespace interop {
// The C++ peer on its own stdin/stdout: READY, then frames until EOF (exit 0),
// or exit 3 after a frame that leaves the stream out of step.
int ServeStdioPipe(const PeerOptions& options);
}  // namespace interop
