// The one interface every mechanism implements on the harness side. A transport
// only moves a request to the peer and a reply back: it never reads the clock,
// never validates, never formats output (the runner in bench/ owns all that).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace interop {

enum class Op : uint8_t { kAdd, kScore };

// What crosses (schemas/): the raw frame, JSON, or protobuf. Each transport
// speaks its idiomatic one by default; those that carry opaque bytes speak
// all three (--codec).
enum class Codec : uint8_t { kRaw, kJson, kProtobuf };

struct Request {
  uint64_t id = 0;
  Op op = Op::kAdd;
  int64_t x = 0;                      // add
  int64_t y = 0;                      // add
  std::span<const double> features;   // score
  std::string_view model;             // score
  // A batch (--batch=B): this message carries these calls instead (each
  // with its own op and inputs; their ids are unused: an item's place is its
  // identity), and its reply must carry their B results in order. Empty: a
  // single call. Never nested.
  std::span<const Request> items;

  bool is_batch() const { return !items.empty(); }
};

// What a reply turned out to be, as the transport decoded it. The runner
// checks it against the request, so a well-formed reply of the other kind
// (or an echo where an answer was due) can never pass for a right one.
enum class ReplyKind : uint8_t {
  kNone,   // nothing usable arrived (see error)
  kAdd,    // result is set
  kScore,  // score and label are set
  kEcho,   // a floor: the peer sent back exactly the bytes that were sent
  kBatch,  // items holds one reply per item of the batch request, in order
};

// The contract: the runner calls Reset() before every call, in one place
// (bench/measure.cc), and a transport only sets what it received. No
// transport guards against a Reply left over from an earlier call.
struct Reply {
  uint64_t id = 0;
  ReplyKind kind = ReplyKind::kNone;
  int64_t result = 0;   // add
  double score = 0;     // score
  std::string label;    // score
  std::string error;    // non-empty: the peer answered with an error, or the reply was not understood
  // A batch's replies (kind kBatch), item i answering request item i: each
  // kAdd, kScore, or an error of its own (its id is unused).
  std::vector<Reply> items;

  void Reset() {
    id = 0;
    kind = ReplyKind::kNone;
    result = 0;
    score = 0;
    label.clear();  // keeps its capacity: no allocation in the timed loop
    error.clear();
    items.clear();  // keeps its capacity too; the workload's labels fit a string's own buffer
  }
  // The next item of a batch reply, reset.
  Reply& AddItem() { return items.emplace_back(); }
};

// What the client of a row does: make the calls (the row), or send the same
// bytes to an echoing peer and check they come back (the row's floor).
enum class ClientMode { kCall, kEcho };

// How a started peer is reached: the address it printed after READY and, for
// transports that talk over the peer's own stdin/stdout, those pipes.
struct PeerEndpoint {
  std::string address;
  int to_peer_fd = -1;    // the peer's stdin
  int from_peer_fd = -1;  // the peer's stdout, positioned after the READY line
};

// Thrown when no reply can be had at all: the peer is gone, the stream is out
// of step, a connect failed. A reply that arrives but is wrong is not thrown:
// it is returned (Reply::error, or wrong id/value) and counted by the runner.
class TransportError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The bytes a client put on its mechanism and took off it since it opened:
// what crossed, framing and headers included, counted as its
// TransportSpec::bytes_counted says. The runner takes the difference over
// each repetition (bench/measure.cc).
struct WireBytes {
  uint64_t sent = 0;
  uint64_t received = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Connects to a ready peer (in-process transports start their runtime here).
  virtual void Open(const PeerEndpoint& peer) = 0;

  // One request, one reply, nothing else in flight.
  virtual void Call(const Request& request, Reply& reply) = 0;

  // Calls in flight (--inflight, the throughput run): Send() puts a request
  // on its way and returns without waiting for its reply; Receive() waits for
  // the next reply to arrive, whichever request it answers (replies may come
  // in any order: the runner matches them by id, bench/measure.cc). The
  // runner never has more than K sent and not received, never calls Receive()
  // with nothing in flight, and resets each reply before Receive(). These
  // defaults make the calls one after another (Send queues, Receive makes
  // the oldest queued call), for mechanisms whose client cannot overlap
  // calls: their calls/s then stays at one call's (TransportSpec::overlaps).
  // BeforeInFlight(k) comes first, outside any timed call: a transport that
  // needs k of something (connections) makes them there.
  virtual void BeforeInFlight(std::size_t /*k*/) {}
  virtual void Send(const Request& request) { queued_.push_back(request); }
  virtual void Receive(Reply& reply) {
    if (queued_.empty()) throw TransportError("Receive() with no call in flight");
    const Request request = queued_.front();
    queued_.pop_front();
    Call(request, reply);
  }

  // The bytes counted so far; nothing for a transport that moves no bytes
  // (an in-process call). Read outside timed calls, from the calling thread.
  virtual std::optional<WireBytes> Wire() const { return std::nullopt; }

  // Closes the connection; stopping the peer process is the harness's job.
  virtual void Close() {}

  // Called from another thread (the runner's watchdog) when the row is given
  // up: a call blocked in this transport must return soon with TransportError.
  // Killing the peer is enough for point-to-point transports; ones that wait
  // on a third party (a Redis server, a directory) override this.
  virtual void Abort() {}

 private:
  std::deque<Request> queued_;  // the default Send/Receive's calls not yet made
};

}  // namespace interop
