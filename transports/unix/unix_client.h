#pragma once
#include "transports/registry.h"
namespace interop {
// Tier 4: a Unix domain stream socket in the run's private directory, raw frames.
TransportSpec UnixSocketTransport();
}  // namespace interop
