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

}  // namespace interop
