#pragma once
#include "transports/peer_options.h"
namespace interop {
// The C++ peer's Redis consumer (hiredis): `redis` (BRPOP the request list)
// and `redis-stream` (XREADGROUP the stream), answering on each reply_to list.
int ServeRedisQueue(const PeerOptions& options);
int ServeRedisStream(const PeerOptions& options);
}  // namespace interop
