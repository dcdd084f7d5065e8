#pragma once
#include "transports/registry.h"
namespace interop {
// Tier 4: raw frames over the peer's stdin and stdout (a parent/child stdio protocol).
TransportSpec PipeTransport();
}  // namespace interop
