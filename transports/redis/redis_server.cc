#include "transports/redis/redis_server.h"

#include <cstdarg>
#include <cstdio>

#include "transports/json/json_codec.h"
#include "transports/raw_stream/raw_stream_server.h"
#include "transports/redis/redis_address.h"
#include "transports/stop_signals.h"
#include "transports/transport.h"

namespace interop {
namespace {

RedisReplyPtr Command(redisContext* c, const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  void* r = redisvCommand(c, format, ap);
  va_end(ap);
  if (!r) throw TransportError(std::string("Redis connection failed: ") + c->errstr);
  return RedisReplyPtr(static_cast<redisReply*>(r));
}

// Answers one queued request and pushes the reply to its reply_to list.
void Answer(redisContext* c, const char* data, std::size_t len, Spoil spoil) {
  std::string reply_to;
  auto answer = json_codec::AnswerRequest({data, len}, std::nullopt, &reply_to);
  if (answer.http_status != 200) std::fprintf(stderr, "cpp peer: bad request: %s\n", answer.body.c_str());
  SpoilJsonReply(spoil, &answer.body);
  if (reply_to.empty()) {
    std::fprintf(stderr, "cpp peer: dropped a request without reply_to\n");
    return;
  }
  Command(c, "LPUSH %b %b", reply_to.data(), reply_to.size(), answer.body.data(), answer.body.size());
}

// Answers one request, or with --echo pushes its bytes unread to PREFIX:echo
// (the reply_to inside the JSON is not read in echo mode). --fault applies
// to both (for the harness's tests).
void Respond(redisContext* c, const RedisAddress& a, const PeerOptions& o, const char* data, std::size_t len) {
  const Spoil spoil = BeforeReply(o.fault);
  if (!o.echo) return Answer(c, data, len, spoil);
  const std::string echo_list = a.prefix + ":echo";
  Command(c, "LPUSH %b %b", echo_list.data(), echo_list.size(), data, len);
}

// Runs serve_one until SIGTERM/SIGINT; serve_one waits at most ~1 s.
template <typename ServeOne>
int Serve(const PeerOptions& options, ServeOne serve_one) {
  StopSignals stop;
  try {
    const RedisAddress address = ParseRedisAddress(options.address);
    RedisConnection conn = ConnectRedis(address);
    serve_one(conn.get(), address, /*setup=*/true);
    AnnounceReady(options.address, options);
    while (!stop.Pending()) serve_one(conn.get(), address, /*setup=*/false);
  } catch (const TransportError& e) {
    std::fprintf(stderr, "cpp peer: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace

int ServeRedisQueue(const PeerOptions& options) {
  return Serve(options, [&options](redisContext* c, const RedisAddress& a, bool setup) {
    if (setup) return;
    const std::string queue = a.prefix + ":requests";
    RedisReplyPtr r = Command(c, "BRPOP %s 1", queue.c_str());
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) Respond(c, a, options, r->element[1]->str, r->element[1]->len);
  });
}

int ServeRedisStream(const PeerOptions& options) {
  return Serve(options, [&options](redisContext* c, const RedisAddress& a, bool setup) {
    const std::string stream = a.prefix + ":stream";
    if (setup) {
      RedisReplyPtr r = Command(c, "XGROUP CREATE %s workers $ MKSTREAM", stream.c_str());
      if (r->type == REDIS_REPLY_ERROR && std::string(r->str).find("BUSYGROUP") == std::string::npos) {
        throw TransportError(std::string("XGROUP CREATE failed: ") + r->str);
      }
      return;
    }
    RedisReplyPtr r = Command(c, "XREADGROUP GROUP workers cpp BLOCK 1000 COUNT 1 STREAMS %s >", stream.c_str());
    if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) return;  // timed out
    // [[stream, [[entry-id, [field, value, ...]]]]]
    const redisReply* entries = r->element[0]->element[1];
    for (std::size_t i = 0; i < entries->elements; ++i) {
      const redisReply* entry = entries->element[i];
      const std::string id(entry->element[0]->str, entry->element[0]->len);
      const redisReply* fields = entry->element[1];
      bool answered = false;
      for (std::size_t f = 0; f + 1 < fields->elements; f += 2) {
        if (std::string_view(fields->element[f]->str, fields->element[f]->len) == "req") {
          Respond(c, a, options, fields->element[f + 1]->str, fields->element[f + 1]->len);
          answered = true;
        }
      }
      if (!answered) std::fprintf(stderr, "cpp peer: stream entry %s has no req field\n", id.c_str());
      Command(c, "XACK %s workers %s", stream.c_str(), id.c_str());
      Command(c, "XDEL %s %s", stream.c_str(), id.c_str());
    }
  });
}

}  // namespace interop
