#pragma once
#include "transports/registry.h"
namespace interop {
// Tier 6: a Redis list as a request queue (LPUSH / BRPOP, reply on a per-client list).
TransportSpec RedisQueueTransport();
// Tier 6: Redis Streams (XADD / XREADGROUP / XACK), the durable variant.
TransportSpec RedisStreamTransport();
}  // namespace interop
