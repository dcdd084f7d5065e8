// "REDIS_URL#PREFIX" (schemas/json_transports.md), shared by the harness's
// Redis clients and the C++ peer's Redis consumer.
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <initializer_list>
#include <string>
#include <string_view>

namespace interop {

struct RedisAddress {
  std::string unix_path;  // set for unix:///path
  std::string host;       // set for redis://host:port
  int port = 0;
  std::string prefix;     // every key the row touches starts with this
};

// Throws TransportError on a malformed address.
RedisAddress ParseRedisAddress(const std::string& text);
// Splits only the URL part (no "#PREFIX"); throws TransportError.
RedisAddress ParseRedisUrl(const std::string& url);

struct RedisContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
using RedisConnection = std::unique_ptr<redisContext, RedisContextFree>;

// Any reply from Redis must come within this; blocking commands wait less.
inline constexpr timeval kRedisReadTimeout{3, 0};

// Connects (timeout 5 s; replies then within kRedisReadTimeout); throws
// TransportError with hiredis's reason. A reply that times out makes the
// command return NULL, which every caller turns into an error.
RedisConnection ConnectRedis(const RedisAddress& address);

struct RedisReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyFree>;

// The bytes a command and a reply take in the Redis protocol (RESP2, as
// hiredis 0.14 writes commands and Redis 7 answers it), for the bytes a
// Redis row counts: a command of these arguments, and a parsed reply.
std::size_t RespCommandSize(std::initializer_list<std::string_view> args);
std::size_t RespSize(const redisReply* reply);

}  // namespace interop
