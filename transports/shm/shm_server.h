#pragma once
#include "transports/peer_options.h"
namespace interop {
// The C++ peer on a shared-memory segment made by the harness (never unlinks it).
int ServeShm(const PeerOptions& options);
}  // namespace interop
