#include "transports/redis/redis_server.h"

#include <cstdarg>
#include <cstdio>
#include <optional>
#include <algorithm>

#include "transports/codec/codec.h"
#include "transports/codec/message_answer.h"
#include "transports/fault/peer_counts.h"
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

// The commands a peer has appended and not yet read the replies of: its
// pushes (LPUSH, XACK, XDEL) go out with its next pop, so a call costs one
// round trip to the broker, and a batch of calls in flight costs one too.
class Pipeline {
 public:
  explicit Pipeline(redisContext* c) : c_(c) {}

  void Append(const char* format, ...) {
    va_list ap;
    va_start(ap, format);
    AppendV(format, ap);
    va_end(ap);
    ++pending_;
  }

  // Sends what was appended and reads its replies, now.
  void Flush() {
    for (; pending_ > 0; --pending_) {
      RedisReplyPtr pushed = Next();
      if (pushed->type == REDIS_REPLY_ERROR) std::fprintf(stderr, "cpp peer: a push failed: %s\n", pushed->str);
    }
  }

  // Sends what was appended and the command, and returns the command's reply
  // (the appended ones' are read and dropped: a failed push costs that reply).
  RedisReplyPtr Exchange(const char* format, ...) {
    va_list ap;
    va_start(ap, format);
    AppendV(format, ap);
    va_end(ap);
    Flush();
    return Next();
  }

 private:
  void AppendV(const char* format, va_list ap) {
    if (redisvAppendCommand(c_, format, ap) != REDIS_OK) {
      throw TransportError(std::string("Redis connection failed: ") + c_->errstr);
    }
  }

  RedisReplyPtr Next() {
    void* r = nullptr;
    if (redisGetReply(c_, &r) != REDIS_OK || !r) {
      throw TransportError(std::string("Redis connection failed: ") + c_->errstr);
    }
    return RedisReplyPtr(static_cast<redisReply*>(r));
  }

  redisContext* c_;
  int pending_ = 0;
};

// Answers one queued request in the row's codec and appends the push of its
// reply: to the list a JSON request names in reply_to, to PREFIX:replies for
// a raw frame or a protobuf message, which name none (json_transports.md).
void Answer(Pipeline& p, const RedisAddress& a, Codec codec, const char* data, std::size_t len, Spoil spoil,
            MessageCount& count) {
  MessageAnswer answer = AnswerMessage(codec, {data, len}, std::nullopt, /*want_reply_to=*/codec == Codec::kJson);
  count.Answered(answer.calls);
  if (!answer.error.empty()) std::fprintf(stderr, "cpp peer: bad request: %s\n", answer.error.c_str());
  if (codec == Codec::kJson) SpoilJsonReply(spoil, &answer.reply);
  if (codec == Codec::kRaw) SpoilRawFrame(spoil, reinterpret_cast<uint8_t*>(answer.reply.data()), answer.reply.size());
  if (codec != Codec::kJson && !answer.id_known) {  // JSON's reply says its null id to reply_to, as ever
    std::fprintf(stderr, "cpp peer: dropped a request whose id cannot be read\n");
    return;
  }
  const std::string reply_to = codec == Codec::kJson ? answer.reply_to : a.prefix + ":replies";
  if (reply_to.empty()) {
    std::fprintf(stderr, "cpp peer: dropped a request without reply_to\n");
    return;
  }
  p.Append("LPUSH %b %b", reply_to.data(), reply_to.size(), answer.reply.data(), answer.reply.size());
}

// --count-held (tests only): the requests this peer holds, counted after
// each request's --fault delay (the harness has had that long to send
// more): those it popped and has not answered, this one included, and those
// still queued on the broker, asked on a second connection (a command on the
// first would send the pipelined replies early). Everything answered before
// has gone out by then: a --fault flushes the pipeline before each request.
class HeldOnBroker {
 public:
  HeldOnBroker(const PeerOptions& o, const RedisAddress& a, const char* length_command, const std::string& key)
      : count_(o.count_held), command_(length_command), key_(key) {
    if (count_.on()) side_ = ConnectRedis(a);
  }
  // `unanswered`: popped and not answered, this one included. A stream's
  // entries stay in its length until deleted, and those before this one
  // were (with the flush), so there the length is the whole count.
  void Count(std::size_t unanswered, bool length_includes_popped) {
    if (!count_.on()) return;
    RedisReplyPtr r = Command(side_.get(), "%s %s", command_, key_.c_str());
    const std::size_t queued = r->type == REDIS_REPLY_INTEGER ? static_cast<std::size_t>(r->integer) : 0;
    count_.Saw(length_includes_popped ? queued : unanswered + queued);
  }
 private:
  HeldCount count_;
  const char* command_;
  std::string key_;
  RedisConnection side_;
};

// Answers one request, or with --echo pushes its bytes unread to PREFIX:echo
// (the reply_to inside the JSON is not read in echo mode). --fault applies
// to both (for the harness's tests). `counted` runs after the fault's delay.
template <typename Counted>
void Respond(Pipeline& p, const RedisAddress& a, const PeerOptions& o, const redisReply* request, Counted counted,
             MessageCount& count) {
  // A fault counts replies sent ("crash after N"): the ones appended go out
  // first, or a batch's would die with the peer unsent.
  if (o.fault.mode != PeerFault::Mode::kNone || o.count_held) p.Flush();
  const Spoil spoil = BeforeReply(o.fault);
  counted();
  if (!o.echo) return Answer(p, a, ParseCodec(o.codec).value_or(Codec::kJson), request->str, request->len, spoil, count);
  const std::string echo_list = a.prefix + ":echo";
  p.Append("LPUSH %b %b", echo_list.data(), echo_list.size(), request->str, request->len);
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

// One request at a time (BRPOP), or, with calls in flight (--inflight=K), as
// many as are queued, up to K, in one BLMPOP (Redis 7), which waits only
// when none are.
int ServeRedisQueue(const PeerOptions& options) {
  std::optional<Pipeline> pipe;
  std::optional<HeldOnBroker> held;
  MessageCount count(options.count_messages);
  return Serve(options, [&options, &pipe, &held, &count](redisContext* c, const RedisAddress& a, bool setup) {
    const std::string queue = a.prefix + ":requests";
    if (setup) {
      pipe.emplace(c);
      held.emplace(options, a, "LLEN", queue);
      return;
    }
    if (options.inflight > 1) {
      RedisReplyPtr r = pipe->Exchange("BLMPOP 1 1 %s RIGHT COUNT %d", queue.c_str(), options.inflight);
      if (r->type == REDIS_REPLY_ERROR) throw TransportError(std::string("BLMPOP (Redis 7) failed: ") + r->str);
      // [key, [request, ...]], or nil after the 1 s wait
      if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[1]->type == REDIS_REPLY_ARRAY) {
        const redisReply* requests = r->element[1];
        const std::size_t n = requests->elements;
        for (std::size_t i = 0; i < n; ++i) {
          Respond(*pipe, a, options, requests->element[i], [&] { held->Count(n - i, false); }, count);
        }
      }
      return;
    }
    RedisReplyPtr r = pipe->Exchange("BRPOP %s 1", queue.c_str());
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
      Respond(*pipe, a, options, r->element[1], [&] { held->Count(1, false); }, count);
    }
  });
}

// Up to K entries per XREADGROUP (COUNT K, 1 without calls in flight); each
// answered, acknowledged and deleted with the next read.
int ServeRedisStream(const PeerOptions& options) {
  std::optional<Pipeline> pipe;
  std::optional<HeldOnBroker> held;
  MessageCount count(options.count_messages);
  return Serve(options, [&options, &pipe, &held, &count](redisContext* c, const RedisAddress& a, bool setup) {
    const std::string stream = a.prefix + ":stream";
    if (setup) {
      pipe.emplace(c);
      held.emplace(options, a, "XLEN", stream);
      RedisReplyPtr r = Command(c, "XGROUP CREATE %s workers $ MKSTREAM", stream.c_str());
      if (r->type == REDIS_REPLY_ERROR && std::string(r->str).find("BUSYGROUP") == std::string::npos) {
        throw TransportError(std::string("XGROUP CREATE failed: ") + r->str);
      }
      return;
    }
    RedisReplyPtr r = pipe->Exchange("XREADGROUP GROUP workers cpp BLOCK 1000 COUNT %d STREAMS %s >",
                                     std::max(1, options.inflight), stream.c_str());
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
          Respond(*pipe, a, options, fields->element[f + 1], [&] { held->Count(entries->elements - i, true); }, count);
          answered = true;
        }
      }
      if (!answered) std::fprintf(stderr, "cpp peer: stream entry %s has no req field\n", id.c_str());
      pipe->Append("XACK %s workers %s", stream.c_str(), id.c_str());
      pipe->Append("XDEL %s %s", stream.c_str(), id.c_str());
    }
  });
}

}  // namespace interop
