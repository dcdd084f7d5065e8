#include "transports/redis/redis_address.h"

#include "transports/tcp/tcp_address.h"
#include "transports/transport.h"

namespace interop {

RedisAddress ParseRedisUrl(const std::string& url) {
  RedisAddress a;
  if (url.rfind("unix://", 0) == 0) {
    a.unix_path = url.substr(7);
    if (a.unix_path.empty() || a.unix_path[0] != '/') throw TransportError("bad Redis URL '" + url + "'");
  } else if (url.rfind("redis://", 0) == 0) {
    std::string hostport = url.substr(8);
    if (auto slash = hostport.find('/'); slash != std::string::npos) hostport.resize(slash);
    ParseHostPort(hostport, &a.host, &a.port);
  } else {
    throw TransportError("Redis URL must be unix:///path or redis://host:port, got '" + url + "'");
  }
  return a;
}

RedisAddress ParseRedisAddress(const std::string& text) {
  const auto hash = text.rfind('#');
  if (hash == std::string::npos || hash + 1 == text.size()) {
    throw TransportError("Redis address needs '#PREFIX': '" + text + "'");
  }
  RedisAddress a = ParseRedisUrl(text.substr(0, hash));
  a.prefix = text.substr(hash + 1);
  return a;
}

RedisConnection ConnectRedis(const RedisAddress& a) {
  const timeval tv{5, 0};
  RedisConnection c(a.unix_path.empty() ? redisConnectWithTimeout(a.host.c_str(), a.port, tv)
                                        : redisConnectUnixWithTimeout(a.unix_path.c_str(), tv));
  if (!c) throw TransportError("cannot allocate a Redis context");
  if (c->err) {
    throw TransportError("cannot connect to Redis at " +
                         (a.unix_path.empty() ? a.host + ":" + std::to_string(a.port) : a.unix_path) + ": " + c->errstr);
  }
  // hiredis 0.14's connect timeout covers only the connect: without this a
  // server that accepts and then never answers would block a read forever.
  // Every blocking command we send waits at most 1 s (BRPOP, XREADGROUP).
  redisSetTimeout(c.get(), kRedisReadTimeout);
  return c;
}

namespace {

std::size_t Digits(std::size_t n) {
  std::size_t d = 1;
  for (; n >= 10; n /= 10) ++d;
  return d;
}

// "$LEN\r\nBYTES\r\n"
std::size_t BulkSize(std::size_t len) { return 1 + Digits(len) + 2 + len + 2; }

}  // namespace

std::size_t RespCommandSize(std::initializer_list<std::string_view> args) {
  std::size_t n = 1 + Digits(args.size()) + 2;  // "*N\r\n"
  for (std::string_view a : args) n += BulkSize(a.size());
  return n;
}

std::size_t RespSize(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING: return BulkSize(r->len);
    case REDIS_REPLY_STATUS:
    case REDIS_REPLY_ERROR: return 1 + r->len + 2;
    case REDIS_REPLY_INTEGER: {
      const long long v = r->integer;
      const std::size_t magnitude = Digits(v < 0 ? 0ULL - static_cast<unsigned long long>(v) : static_cast<unsigned long long>(v));
      return 1 + (v < 0 ? 1 : 0) + magnitude + 2;
    }
    case REDIS_REPLY_NIL: return 5;  // "$-1\r\n" or "*-1\r\n"
    case REDIS_REPLY_ARRAY: {
      std::size_t n = 1 + Digits(r->elements) + 2;
      for (std::size_t i = 0; i < r->elements; ++i) n += RespSize(r->element[i]);
      return n;
    }
  }
  return 0;
}

}  // namespace interop
