// Counts a peer keeps for the harness's tests, said on stderr, off by
// default (each costs something per request).
//
// --count-held, for the tests of calls in flight (tests/inflight_test.cc):
// the most requests this peer held at once (received, not yet answered),
// said on stderr each time it grows, as "held at most N requests at once"
// (we may be stopped at any moment, so there is no summary at exit). Each
// server counts what it can see of its own backlog: bytes waiting in its
// stream, entries published in its ring, requests queued on the broker or
// in the directory, handlers running at once. Off by default: the count
// costs a system call or a round trip per request.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>

namespace interop {

class HeldCount {
 public:
  explicit HeldCount(bool on) : on_(on) {}
  bool on() const { return on_; }

  // A server saw `held` requests held at once. Any thread.
  void Saw(std::size_t held);

  // For servers that answer each call on a thread of its own (REST, gRPC):
  // a call is held from the start of its handler to its end. Free when off.
  class Hold {
   public:
    explicit Hold(HeldCount& count);
    ~Hold();
    Hold(const Hold&) = delete;
    Hold& operator=(const Hold&) = delete;

   private:
    HeldCount& count_;
  };

 private:
  const bool on_;
  std::atomic<std::size_t> now_{0};   // handlers running (Hold)
  std::atomic<std::size_t> most_{0};  // the most said so far
};

// --count-messages, for the tests of batches (tests/batch_test.cc): every
// message this peer answered and the calls it carried, said on stderr after
// each, as "answered N messages holding M calls", so that B calls sent one
// by one can never pass for a batch of B. Thread-safe.
class MessageCount {
 public:
  explicit MessageCount(bool on) : on_(on) {}
  bool on() const { return on_; }
  void Answered(std::size_t calls);

 private:
  const bool on_;
  std::mutex mu_;  // both counts and their line, together: handlers answer at once (REST, gRPC)
  std::size_t messages_ = 0;
  std::size_t calls_ = 0;
};

}  // namespace interop
