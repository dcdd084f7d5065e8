#pragma once
#include "transports/registry.h"
namespace interop {
// Tier 5: HTTP/1.1 + JSON on 127.0.0.1, one keep-alive connection (cpp-httplib).
TransportSpec RestTransport();
}  // namespace interop
