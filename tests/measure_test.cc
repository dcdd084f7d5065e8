// The timing loop and the statistics made from it, with an in-memory
// transport: what is counted, what is timed, what crosses back from a child.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bench/measure.h"
#include "bench/runner.h"
#include "bench/summarize.h"
#include "common/workload.h"
#include "transports/echo/echo_check.h"

namespace interop {
namespace {

using ::testing::HasSubstr;

// Answers add right, except for call number `fail_at`, which gets an error.
// Like every transport it only sets what it "received": it relies on the
// runner's reset, as the contract says.
class InMemoryAdd final : public Transport {
 public:
  explicit InMemoryAdd(uint64_t fail_at) : fail_at_(fail_at) {}
  void Open(const PeerEndpoint&) override {}
  void Call(const Request& r, Reply& reply) override {
    if (++calls_ == fail_at_) {
      reply.error = "the planted failure";
      return;
    }
    reply.id = r.id;
    reply.result = Add(r.x, r.y);
    reply.kind = ReplyKind::kAdd;
  }
  uint64_t calls() const { return calls_; }

 private:
  uint64_t fail_at_;
  uint64_t calls_ = 0;
};

RunSettings Short() {
  RunSettings s;
  s.calls = 500;
  s.warmup_s = 0;
  s.repetitions = 3;
  s.throughput_s = 0.01;
  s.inflight = 4;
  return s;
}

TEST(Measure, OneWrongReplyIsOneErrorAndIsNotTimed) {
  InMemoryAdd t(/*fail_at=*/100);  // past the 10 warmup calls: inside the timed run
  const RunSettings s = Short();
  Watchdog dog(60, -1, [] {});
  Measurement m;
  MeasureCalls(t, {.settings = &s, .role = RowRole::kRow, .in_process = false, .watchdog = &dog}, m);
  EXPECT_EQ(m.errors, 1u);
  EXPECT_EQ(m.first_error, "the planted failure");
  ASSERT_EQ(m.repetitions.size(), 3u);
  uint64_t timed = 0;
  for (const auto& r : m.repetitions) {
    EXPECT_EQ(r.calls, r.ns_per_call.size());
    timed += r.calls;
  }
  EXPECT_EQ(timed, 3u * 500 - 1);  // every call but the wrong one
  EXPECT_GT(m.calls_per_s, 0);
  EXPECT_EQ(m.inflight, 4);
}

TEST(Measure, AFloorExpectsEchoesAndHasNoThroughputRun) {
  InMemoryAdd t(0);  // answers instead of echoing: every call is wrong for a floor
  const RunSettings s = Short();
  Watchdog dog(60, -1, [] {});
  Measurement m;
  MeasureCalls(t, {.settings = &s, .role = RowRole::kFloor, .in_process = false, .watchdog = &dog}, m);
  EXPECT_EQ(m.errors, t.calls());
  EXPECT_THAT(m.first_error, HasSubstr("wrong kind"));
  EXPECT_EQ(m.inflight, 0);
}

TEST(Measure, InProcessCallsAreTimedInBatches) {
  InMemoryAdd t(0);
  RunSettings s = Short();
  s.calls = 4000;
  Watchdog dog(60, -1, [] {});
  Measurement m;
  MeasureCalls(t, {.settings = &s, .role = RowRole::kRow, .in_process = true, .watchdog = &dog}, m);
  EXPECT_GT(m.calls_per_sample, 1u);
  for (const auto& r : m.repetitions) EXPECT_EQ(r.calls, r.ns_per_call.size() * m.calls_per_sample);
}

// Keeps every request sent and answers the newest first, so replies come
// back out of order; counts the most it held at once. Reply number
// `bad_at` (if set) is the oldest call's, with its id lost (0).
class OutOfOrderAdd final : public Transport {
 public:
  explicit OutOfOrderAdd(uint64_t bad_at = 0) : bad_at_(bad_at) {}
  void Open(const PeerEndpoint&) override {}
  void Call(const Request& r, Reply& reply) override { Answer(r, reply); }
  void Send(const Request& r) override {
    held_.push_back(r);
    most_held_ = std::max(most_held_, held_.size());
  }
  void Receive(Reply& reply) override {
    ASSERT_FALSE(held_.empty());
    if (++received_ == bad_at_) {  // the oldest call's reply, garbled: its id is lost
      Answer(held_.front(), reply);
      held_.erase(held_.begin());
      reply.id = 0;
      return;
    }
    Answer(held_.back(), reply);
    held_.pop_back();
  }
  std::size_t most_held() const { return most_held_; }
  std::size_t held() const { return held_.size(); }

 private:
  static void Answer(const Request& r, Reply& reply) {
    reply.id = r.id;
    reply.result = Add(r.x, r.y);
    reply.kind = ReplyKind::kAdd;
  }
  uint64_t bad_at_;
  uint64_t received_ = 0;
  std::vector<Request> held_;
  std::size_t most_held_ = 0;
};

TEST(Measure, ARowUnderLoadKeepsKInFlightAndMatchesRepliesById) {
  OutOfOrderAdd t;
  RunSettings s = Short();
  s.throughput_s = 0;
  Watchdog dog(60, -1, [] {});
  Measurement m;
  MeasureCalls(t, {.settings = &s, .role = RowRole::kRow, .in_process = false, .inflight = 8, .watchdog = &dog}, m);
  EXPECT_EQ(m.errors, 0u) << m.first_error;  // out of order, yet every reply matched to its request
  EXPECT_EQ(t.most_held(), 8u);
  EXPECT_EQ(t.held(), 0u);  // every call in flight was received before the repetition ended
  ASSERT_EQ(m.repetitions.size(), 3u);
  for (const auto& r : m.repetitions) {
    EXPECT_EQ(r.calls, 500u);  // --calls under load: that many calls, each timed
    EXPECT_EQ(r.ns_per_call.size(), 500u);
    EXPECT_GT(r.timed_ns, 0);
  }
  EXPECT_EQ(m.inflight, 0);  // no throughput run beside it: calls/s is the repetitions' own
  RowResult row;
  row.id.inflight = 8;
  Summarize(m, row);
  EXPECT_GT(row.calls_per_s, 0);
  EXPECT_EQ(row.throughput_inflight, 8);
}

TEST(Measure, AReplyToNoCallInFlightIsAnErrorAndTheWindowGoesOn) {
  OutOfOrderAdd t(/*bad_at=*/50);
  RunSettings s = Short();
  s.repetitions = 1;
  s.throughput_s = 0;
  Watchdog dog(60, -1, [] {});
  Measurement m;
  MeasureCalls(t, {.settings = &s, .role = RowRole::kRow, .in_process = false, .inflight = 4, .watchdog = &dog}, m);
  EXPECT_EQ(m.errors, 1u);
  EXPECT_THAT(m.first_error, HasSubstr("reply id 0 for request id"));
  ASSERT_EQ(m.repetitions.size(), 1u);
  EXPECT_EQ(m.repetitions[0].calls, 499u);  // the wrong one is counted, not timed
  EXPECT_EQ(t.held(), 0u);
}

// Answers in order until its `fail_at`th reply, where the peer is "gone".
class DiesUnderLoad final : public Transport {
 public:
  explicit DiesUnderLoad(uint64_t fail_at) : fail_at_(fail_at) {}
  void Open(const PeerEndpoint&) override {}
  void Call(const Request& r, Reply& reply) override {
    reply.id = r.id;
    reply.result = Add(r.x, r.y);
    reply.kind = ReplyKind::kAdd;
  }
  void Send(const Request& r) override { held_.push_back(r); }
  void Receive(Reply& reply) override {
    if (++received_ == fail_at_) throw TransportError("the peer closed the connection");
    Call(held_.front(), reply);
    held_.erase(held_.begin());
  }

 private:
  uint64_t fail_at_;
  uint64_t received_ = 0;
  std::vector<Request> held_;
};

TEST(Measure, ARepetitionCutShortUnderLoadKeepsCallsAndTimeThatAgree) {
  DiesUnderLoad t(/*fail_at=*/120);
  RunSettings s = Short();
  s.throughput_s = 0;
  Watchdog dog(60, -1, [] {});
  Measurement m;
  EXPECT_THROW(
      MeasureCalls(t, {.settings = &s, .role = RowRole::kRow, .in_process = false, .inflight = 4, .watchdog = &dog}, m),
      TransportError);
  ASSERT_EQ(m.repetitions.size(), 1u);
  EXPECT_EQ(m.repetitions[0].calls, 119u);
  EXPECT_EQ(m.repetitions[0].ns_per_call.size(), 119u);
  EXPECT_GT(m.repetitions[0].timed_ns, 0);
}

TEST(Measure, TheThroughputRunKeepsItsKInFlight) {
  OutOfOrderAdd t;
  const RunSettings s = Short();  // the default run: a throughput run at 4
  Watchdog dog(60, -1, [] {});
  Measurement m;
  MeasureCalls(t, {.settings = &s, .role = RowRole::kRow, .in_process = false, .watchdog = &dog}, m);
  EXPECT_EQ(t.most_held(), 4u);
  EXPECT_EQ(m.inflight, 4);
  EXPECT_GT(m.calls_per_s, 0);
  EXPECT_EQ(m.errors, 0u);
}

// Answers batches item by item, like a peer would; `spoil_item` (counted
// over every item answered) gets a wrong result, and with `drop_last` every
// reply lacks its last item. Under load it answers in reverse order of
// sending, so replies must be matched by id.
class InMemoryBatches final : public Transport {
 public:
  InMemoryBatches(uint64_t spoil_item, bool drop_last) : spoil_item_(spoil_item), drop_last_(drop_last) {}
  void Open(const PeerEndpoint&) override {}
  void Call(const Request& r, Reply& reply) override {
    ++messages_;
    reply.id = r.id;
    if (!r.is_batch()) {
      reply.error = "a single call where a batch was due";
      return;
    }
    reply.kind = ReplyKind::kBatch;
    const std::size_t n = r.items.size() - (drop_last_ ? 1 : 0);
    for (std::size_t i = 0; i < n; ++i) {
      Reply& item = reply.AddItem();
      item.result = Add(r.items[i].x, r.items[i].y) + (++items_ == spoil_item_ ? 1 : 0);
      item.kind = ReplyKind::kAdd;
    }
  }
  void Send(const Request& r) override { pending_.push_back(r); }
  void Receive(Reply& reply) override {
    const Request r = pending_.back();  // the newest first
    pending_.pop_back();
    Call(r, reply);
  }
  uint64_t messages() const { return messages_; }
  uint64_t items() const { return items_; }

 private:
  uint64_t spoil_item_;
  bool drop_last_;
  uint64_t messages_ = 0;
  uint64_t items_ = 0;
  std::vector<Request> pending_;
};

TEST(Measure, ABatchIsOneTimedMessageOfBCallsEachChecked) {
  InMemoryBatches t(/*spoil_item=*/0, false);
  RunSettings s = Short();
  s.throughput_s = 0;
  Watchdog dog(60, -1, [] {});
  Measurement m;
  MeasureCalls(t, {.settings = &s, .role = RowRole::kRow, .in_process = false, .batch = 7, .watchdog = &dog}, m);
  EXPECT_EQ(m.errors, 0u) << m.first_error;
  ASSERT_EQ(m.repetitions.size(), 3u);
  for (const auto& r : m.repetitions) {
    EXPECT_EQ(r.calls, 500u);  // messages, one sample each
    EXPECT_EQ(r.ns_per_call.size(), 500u);
  }
  EXPECT_EQ(t.items(), 7 * t.messages());
}

TEST(Measure, OneWrongItemFailsItsMessageAndSaysWhichItem) {
  InMemoryBatches t(/*spoil_item=*/7 * 20 + 3, false);  // in the warmup's 21st message (10 at least are made)
  RunSettings s = Short();
  s.throughput_s = 0;
  s.warmup_s = 0;
  Watchdog dog(60, -1, [] {});
  Measurement m;
  MeasureCalls(t, {.settings = &s, .role = RowRole::kRow, .in_process = false, .batch = 7, .watchdog = &dog}, m);
  EXPECT_EQ(m.errors, 1u);
  EXPECT_THAT(m.first_error, HasSubstr("item 2: add result"));
}

TEST(Measure, AReplyMissingAnItemIsWrong) {
  InMemoryBatches t(0, /*drop_last=*/true);
  RunSettings s = Short();
  s.throughput_s = 0;
  Watchdog dog(60, -1, [] {});
  Measurement m;
  MeasureCalls(t, {.settings = &s, .role = RowRole::kRow, .in_process = false, .batch = 5, .watchdog = &dog}, m);
  EXPECT_EQ(m.errors, t.messages());
  EXPECT_THAT(m.first_error, HasSubstr("4 replies to a batch of 5"));
}

TEST(Measure, BatchesUnderLoadKeepTheirItemsUntilTheirRepliesAreChecked) {
  // Replies come newest first: each must still be checked against its own
  // message's items, which the loop keeps while the call is in flight.
  InMemoryBatches t(0, false);
  RunSettings s = Short();
  s.throughput_s = 0;
  Watchdog dog(60, -1, [] {});
  Measurement m;
  MeasureCalls(t, {.settings = &s, .role = RowRole::kRow, .in_process = false, .inflight = 8, .batch = 3,
                   .watchdog = &dog}, m);
  EXPECT_EQ(m.errors, 0u) << m.first_error;
  for (const auto& r : m.repetitions) EXPECT_EQ(r.calls, 500u);
}

TEST(Measure, EchoCheckComparesEveryByte) {
  Reply ok;
  CheckEcho(std::string_view("abcdef"), std::string_view("abcdef"), 7, ok);
  EXPECT_EQ(ok.kind, ReplyKind::kEcho);
  EXPECT_EQ(ok.id, 7u);
  EXPECT_TRUE(ok.error.empty());
  Reply changed;
  CheckEcho(std::string_view("abcdef"), std::string_view("abcXef"), 7, changed);
  EXPECT_EQ(changed.kind, ReplyKind::kNone);
  EXPECT_EQ(changed.error, "the echo changed the bytes: sent 6 B, got 6 B, first difference at byte 3");
  Reply cut;
  CheckEcho(std::string_view("abcdef"), std::string_view("abc"), 7, cut);
  EXPECT_THAT(cut.error, HasSubstr("got 3 B"));
}

Measurement EveryFieldSet() {
  Measurement m;
  m.calls_per_sample = 3;
  m.errors = 2;
  m.first_error = "id 4: add result 1, expected 2";
  m.calls_per_s = 12345.5;
  m.inflight = 16;
  m.failure = "interrupted";
  RepetitionSamples& first = m.repetitions.emplace_back();
  first.ns_per_call = {10.5, 11.25, 9.75};
  first.calls = 9;
  first.caller_cpu_ns = 3000.0;
  first.peer_cpu_ns = 4500.0;
  first.broker_cpu_ns = 700.0;
  first.timed_ns = 95.5;
  RepetitionSamples& second = m.repetitions.emplace_back();
  second.ns_per_call = {20.5};
  second.calls = 3;
  second.peer_cpu_ns = 100.0;
  return m;
}

TEST(Measure, AMeasurementCrossesFromTheChildIntact) {
  const Measurement m = EveryFieldSet();
  const Measurement back = DecodeMeasurement(EncodeMeasurement(m));
  EXPECT_EQ(back.calls_per_sample, 3u);
  EXPECT_EQ(back.errors, 2u);
  EXPECT_EQ(back.first_error, m.first_error);
  EXPECT_EQ(back.calls_per_s, 12345.5);
  EXPECT_EQ(back.inflight, 16);
  EXPECT_EQ(back.failure, "interrupted");
  ASSERT_EQ(back.repetitions.size(), 2u);
  EXPECT_EQ(back.repetitions[0].ns_per_call, m.repetitions[0].ns_per_call);
  EXPECT_EQ(back.repetitions[0].calls, 9u);
  EXPECT_EQ(back.repetitions[0].caller_cpu_ns, 3000.0);
  EXPECT_EQ(back.repetitions[0].peer_cpu_ns, 4500.0);
  EXPECT_EQ(back.repetitions[0].broker_cpu_ns, 700.0);
  EXPECT_EQ(back.repetitions[0].timed_ns, 95.5);
  EXPECT_FALSE(back.repetitions[1].broker_cpu_ns.has_value());
  EXPECT_EQ(back.repetitions[1].ns_per_call, m.repetitions[1].ns_per_call);
  EXPECT_FALSE(back.repetitions[1].caller_cpu_ns.has_value());
  const std::string bytes = EncodeMeasurement(m);
  EXPECT_THROW(DecodeMeasurement(bytes.substr(0, bytes.size() - 4)), std::runtime_error);
  EXPECT_THROW(DecodeMeasurement("no header"), std::runtime_error);
}

TEST(Summarize, StatisticsComeFromTheSamples) {
  Measurement m;
  RepetitionSamples a, b;
  for (int i = 0; i < 100; ++i) a.ns_per_call.push_back(100 + i % 10);  // median 104 in every slice
  for (int i = 0; i < 100; ++i) b.ns_per_call.push_back(i < 50 ? 200 : 300);
  a.calls = b.calls = 100;
  a.caller_cpu_ns = 10000;
  b.caller_cpu_ns = 30000;
  a.peer_cpu_ns = 5000;
  b.peer_cpu_ns = std::nullopt;  // the peer's clock could not be read: no total
  m.repetitions = {a, b};
  RowResult r;
  Summarize(m, r);
  EXPECT_EQ(r.status, RowStatus::kOk);
  EXPECT_EQ(r.calls, 200u);
  ASSERT_EQ(r.repetitions.size(), 2u);
  EXPECT_EQ(r.repetitions[0].p50_ns, 104);
  EXPECT_DOUBLE_EQ(r.repetitions[0].mean_ns, 104.5);
  EXPECT_EQ(r.repetitions[1].p50_ns, 200);
  // Two repetitions: the spread is over their p50s.
  EXPECT_EQ(r.p50_low_ns, 104);
  EXPECT_EQ(r.p50_high_ns, 200);
  EXPECT_DOUBLE_EQ(*r.cpu_ns_per_call.caller, 200);
  EXPECT_FALSE(r.cpu_ns_per_call.peer.has_value());
  EXPECT_DOUBLE_EQ(*r.repetitions[0].peer_cpu_ns_per_call, 50);
  EXPECT_TRUE(r.unstable);
}

TEST(Summarize, OneRepetitionSpreadsOverItsSlices) {
  Measurement m;
  RepetitionSamples one;
  for (int i = 0; i < 100; ++i) one.ns_per_call.push_back(i < 80 ? 100 : 150);  // the last fifth is slower
  one.calls = 100;
  m.repetitions = {one};
  RowResult r;
  Summarize(m, r);
  EXPECT_EQ(r.p50_low_ns, 100);
  EXPECT_EQ(r.p50_high_ns, 150);
  EXPECT_DOUBLE_EQ(*r.p50_spread, 0.5);
  m.repetitions[0].ns_per_call.resize(30);  // too short to slice: unknown, not zero
  m.repetitions[0].calls = 30;
  RowResult short_row;
  Summarize(m, short_row);
  EXPECT_FALSE(short_row.p50_spread.has_value());
  EXPECT_FALSE(short_row.unstable);
}

// The stated rule (bench/summarize.h): unstable when the repetitions' p50s
// stray from their median by more than 10% (median absolute deviation).
TEST(Summarize, UnstableOnlyWhenTheRepetitionsDisagree) {
  auto row_of = [](const std::vector<double>& p50s) {
    Measurement m;
    for (double p : p50s) {
      RepetitionSamples rep;
      rep.ns_per_call.assign(20, p);
      rep.calls = 20;
      m.repetitions.push_back(rep);
    }
    RowResult r;
    Summarize(m, r);
    return r;
  };
  // One pair in four in the slow mode: the spread is wide, the p50 stands.
  const RowResult minority = row_of({3000, 3050, 4500, 2990, 3020, 4550, 3010, 3040});
  EXPECT_GT(*minority.p50_spread, 0.4);
  EXPECT_LT(*minority.p50_mad, 0.10);
  EXPECT_FALSE(minority.unstable);
  // Split between two modes: the p50 is a coin toss between them.
  const RowResult split = row_of({3000, 4500, 3050, 4550, 2990, 4600, 3020, 4480});
  EXPECT_GT(*split.p50_mad, 0.10);
  EXPECT_TRUE(split.unstable);
}

TEST(Passes, EachPassIsOneRepetitionAndOnlyTheLastRunsTheThroughput) {
  RunSettings s;
  s.repetitions = 3;
  s.throughput_s = 0.5;
  Measurement so_far;
  EXPECT_EQ(PassSettings(s, 0, so_far).repetitions, 1);
  EXPECT_EQ(PassSettings(s, 0, so_far).throughput_s, 0);
  EXPECT_EQ(PassSettings(s, 1, so_far).throughput_s, 0);
  EXPECT_EQ(PassSettings(s, 2, so_far).throughput_s, 0.5);
  // An in-process row's later passes time the batch its first pass found.
  EXPECT_EQ(PassSettings(s, 0, so_far).calls_per_sample, 0u);
  so_far.calls_per_sample = 1;  // a batch of one call is a batch too
  EXPECT_EQ(PassSettings(s, 1, so_far).calls_per_sample, 1u);
  so_far.calls_per_sample = 512;
  EXPECT_EQ(PassSettings(s, 1, so_far).calls_per_sample, 512u);
}

TEST(Passes, AppendingKeepsRepetitionsInOrderAndTheThroughputOfItsPass) {
  auto pass = [](double p50, int inflight) {
    Measurement m;
    RepetitionSamples rep;
    rep.ns_per_call = {p50};
    rep.calls = 1;
    m.repetitions = {rep};
    m.calls_per_sample = 4;
    if (inflight > 0) {
      m.inflight = inflight;
      m.calls_per_s = 1000;
    }
    return m;
  };
  Measurement row;
  AppendPass(row, pass(10, 0));
  AppendPass(row, pass(20, 0));
  Measurement last = pass(30, 16);
  last.errors = 2;
  last.first_error = "id 7: wrong";
  AppendPass(row, last);
  ASSERT_EQ(row.repetitions.size(), 3u);
  EXPECT_EQ(row.repetitions[0].ns_per_call[0], 10);
  EXPECT_EQ(row.repetitions[2].ns_per_call[0], 30);
  EXPECT_EQ(row.calls_per_sample, 4u);
  EXPECT_EQ(row.inflight, 16);
  EXPECT_EQ(row.calls_per_s, 1000);
  EXPECT_EQ(row.errors, 2u);
  EXPECT_EQ(row.first_error, "id 7: wrong");
}

TEST(Summarize, AFailureOrAWrongReplyFailsTheRow) {
  Measurement stopped;
  stopped.failure = "no reply within 5 s; the peer was killed";
  RowResult a;
  Summarize(stopped, a);
  EXPECT_EQ(a.status, RowStatus::kFailed);
  EXPECT_EQ(a.reason, stopped.failure);
  Measurement wrong;
  wrong.errors = 3;
  wrong.first_error = "reply id 5 for request id 4";
  RowResult b;
  Summarize(wrong, b);
  EXPECT_EQ(b.status, RowStatus::kFailed);
  EXPECT_EQ(b.reason, "3 wrong or error replies; first: reply id 5 for request id 4");
}

}  // namespace
}  // namespace interop
