#include "transports/redis/redis_client.h"

#include <atomic>
#include <deque>

#include "transports/echo/echo_check.h"
#include "transports/codec/codec.h"
#include "transports/json/json_codec.h"
#include "transports/redis/redis_address.h"

namespace interop {
namespace {

// The harness side of both Redis variants: they differ only in how a request
// is enqueued; replies always come back on this client's own list (JSON
// names it in reply_to; a raw frame or a protobuf message cannot, and its
// replies come to PREFIX:replies). In echo mode (the floor) the peer pushes
// each request's bytes, unread, to the fixed list PREFIX:echo, and the
// client compares them with what it sent. Bytes crossed: the Redis protocol
// of every command the client sends and every reply it reads, counted from
// their arguments and parsed replies (RespCommandSize, RespSize).
class RedisClient final : public Transport {
 public:
  RedisClient(bool use_stream, ClientMode mode, Codec codec)
      : use_stream_(use_stream), echo_(mode == ClientMode::kEcho), codec_(codec) {}

  void Open(const PeerEndpoint& peer) override {
    address_ = ParseRedisAddress(peer.address);
    conn_ = ConnectRedis(address_);
    queue_ = address_.prefix + (use_stream_ ? ":stream" : ":requests");
    // A JSON body names the row's reply list either way, so a floor sends the row's very bytes.
    reply_to_ = codec_.codec() == Codec::kJson ? address_.prefix + ":reply:1" : address_.prefix + ":replies";
    receive_from_ = echo_ ? address_.prefix + ":echo" : reply_to_;
  }

  void Call(const Request& r, Reply& reply) override {
    Append(r);
    Expect(REDIS_REPLY_INTEGER, use_stream_ ? REDIS_REPLY_STRING : REDIS_REPLY_INTEGER);
    Pop(r, body_, reply);
  }

  // K requests on the queue: Send() appends the enqueue to hiredis's output
  // buffer; Receive() sends what is buffered, reads the enqueues' acks and
  // pops every reply that is there, up to the calls in flight, in one BLMPOP
  // (Redis 7), which waits only when none is. The first is this Receive()'s,
  // the others wait in `popped_` for the next ones: one round trip per batch
  // of replies, as the peers take their requests.
  void Send(const Request& r) override {
    if (echo_) return Transport::Send(r);  // floors time single calls
    Append(r);
    op_ = r.op;
    ++unacked_;
    ++in_flight_;
  }
  void Receive(Reply& reply) override {
    if (echo_) return Transport::Receive(reply);
    if (in_flight_ == 0) throw TransportError("Receive() with no call in flight");
    for (; unacked_ > 0; --unacked_) Expect(REDIS_REPLY_INTEGER, use_stream_ ? REDIS_REPLY_STRING : REDIS_REPLY_INTEGER);
    while (popped_.empty()) {
      if (aborted_) throw TransportError("no reply (row given up)");
      const std::string count = std::to_string(in_flight_);  // hiredis's format has no %zu
      RedisReplyPtr r(static_cast<redisReply*>(
          redisCommand(conn_.get(), "BLMPOP 0.25 1 %s RIGHT COUNT %s", receive_from_.c_str(), count.c_str())));
      if (!r) throw TransportError(std::string("Redis connection failed: ") + conn_->errstr);
      wire_.sent += RespCommandSize({"BLMPOP", "0.25", "1", receive_from_, "RIGHT", "COUNT", count});
      wire_.received += RespSize(r.get());
      if (r->type == REDIS_REPLY_NIL) continue;
      // [key, [reply, ...]]
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[1]->type != REDIS_REPLY_ARRAY) {
        throw TransportError(r->type == REDIS_REPLY_ERROR ? std::string("BLMPOP (Redis 7) failed: ") + r->str
                                                          : std::string("unexpected BLMPOP reply"));
      }
      for (std::size_t i = 0; i < r->element[1]->elements; ++i) {
        popped_.emplace_back(r->element[1]->element[i]->str, r->element[1]->element[i]->len);
      }
    }
    --in_flight_;
    codec_.Decode(popped_.front(), op_, reply);  // one workload per row: every call in flight has op_
    popped_.pop_front();
  }

  std::optional<WireBytes> Wire() const override { return wire_; }

  void Close() override {
    if (conn_) {
      // Leave nothing under our prefix behind on the server.
      RedisReplyPtr(static_cast<redisReply*>(
          redisCommand(conn_.get(), "DEL %s %s %s", queue_.c_str(), reply_to_.c_str(), receive_from_.c_str())));
    }
    conn_.reset();
  }
  void Abort() override { aborted_ = true; }

 private:
  void Append(const Request& r) {
    codec_.Encode(r, codec_.codec() == Codec::kJson ? std::string_view(reply_to_) : std::string_view(), body_);
    if (use_stream_) {
      redisAppendCommand(conn_.get(), "XADD %s MAXLEN ~ 10000 * req %b", queue_.c_str(), body_.data(), body_.size());
      wire_.sent += RespCommandSize({"XADD", queue_, "MAXLEN", "~", "10000", "*", "req", body_});
    } else {
      redisAppendCommand(conn_.get(), "LPUSH %s %b", queue_.c_str(), body_.data(), body_.size());
      wire_.sent += RespCommandSize({"LPUSH", queue_, body_});
    }
  }

  RedisReplyPtr Next() {
    void* raw = nullptr;
    if (redisGetReply(conn_.get(), &raw) != REDIS_OK || !raw) {
      throw TransportError(std::string("Redis connection failed: ") + conn_->errstr);
    }
    return RedisReplyPtr(static_cast<redisReply*>(raw));
  }

  void Expect(int type_a, int type_b) {
    RedisReplyPtr r = Next();
    wire_.received += RespSize(r.get());
    if (r->type != type_a && r->type != type_b) {
      throw TransportError("Redis refused the request: " + std::string(r->str ? r->str : "unexpected reply type"));
    }
  }

  // Waits for the reply in short BRPOPs, so an abandoned row returns quickly.
  // `sent` is the request's body, which an echo must bring back unchanged.
  void Pop(const Request& request, std::string_view sent, Reply& reply) {
    for (;;) {
      if (aborted_) throw TransportError("no reply (row given up)");
      RedisReplyPtr r(static_cast<redisReply*>(redisCommand(conn_.get(), "BRPOP %s 0.25", receive_from_.c_str())));
      if (!r) throw TransportError(std::string("Redis connection failed: ") + conn_->errstr);
      wire_.sent += RespCommandSize({"BRPOP", receive_from_, "0.25"});
      wire_.received += RespSize(r.get());
      if (r->type == REDIS_REPLY_NIL) continue;
      if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) throw TransportError("unexpected BRPOP reply");
      const std::string_view got(r->element[1]->str, r->element[1]->len);
      if (echo_) CheckEcho(sent, got, request.id, reply);
      else codec_.Decode(got, request.op, reply);
      return;
    }
  }

  bool use_stream_;
  bool echo_;
  RedisAddress address_;
  RedisConnection conn_;
  std::string queue_;
  std::string reply_to_;
  std::string receive_from_;
  std::string body_;
  Op op_ = Op::kAdd;         // of the requests in flight (Send)
  std::size_t unacked_ = 0;  // enqueues sent whose acks are not read yet
  std::size_t in_flight_ = 0;       // sent, and not yet received
  std::deque<std::string> popped_;  // replies popped ahead of their Receive()
  MessageCodec codec_;
  WireBytes wire_;
  std::atomic<bool> aborted_{false};
};

std::string RedisListenAddress(const AddressContext& where) {
  return where.redis_url + "#interop:" + where.run_id + ":" + where.tag;
}

}  // namespace

TransportSpec RedisQueueTransport() {
  return {
      .name = "redis",
      .tier = "6",
      .default_codec = "json",
      .summary = "Redis list as a queue: LPUSH / BRPOP, replies on a per-client list",
      .wait_style = WaitStyle::kBlocking,
      .peer_uses_stdio = false,
      .listen_address = RedisListenAddress,
      .make_client = [](PeerKind, ClientMode mode, Codec codec) -> std::unique_ptr<Transport> {
        return std::make_unique<RedisClient>(false, mode, codec);
      },
      .too_large = [](const Request& message, Codec codec) { return MessageTooLarge(codec, message, /*framed=*/false); },
      .overlaps = "K requests on the queue (hiredis pipelining), replies popped as they come, all that are there in one BLMPOP",
      .needs_redis = true,
      .codecs = {Codec::kJson, Codec::kRaw, Codec::kProtobuf},
      .bytes_counted = "the Redis protocol (RESP) of the client's commands and of the replies it reads, "
                       "between client and broker; the peer's side crosses about as much again",
  };
}

TransportSpec RedisStreamTransport() {
  TransportSpec spec = RedisQueueTransport();
  spec.name = "redis-stream";
  spec.summary = "Redis Streams: XADD / XREADGROUP / XACK (durable), replies on a per-client list";
  spec.make_client = [](PeerKind, ClientMode mode, Codec codec) -> std::unique_ptr<Transport> {
    return std::make_unique<RedisClient>(true, mode, codec);
  };
  spec.overlaps = "K entries on the stream (hiredis pipelining), replies popped as they come, all that are there in one BLMPOP";
  return spec;
}

}  // namespace interop
