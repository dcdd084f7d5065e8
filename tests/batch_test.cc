// Batches (--batch=B) against the real peers: every transport x peer, add
// and score, B calls in each message and every one of their results
// checked; floors echoing a batch's bytes; batches under load; the C++
// peer's own count showing each batch crossed as one message (so B calls
// sent one by one could not pass for a batch of B); and batch replies that
// outgrow a pipe while requests are still being written.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <regex>

#include "test_support.h"
#include "transports/registry.h"

namespace interop {
namespace {

using namespace testing_support;

struct BatchCase {
  std::string transport;
  PeerKind peer;
  Op op;
  RowRole role;
};

void PrintTo(const BatchCase& c, std::ostream* os) {
  *os << c.transport << "/" << PeerName(c.peer) << (c.op == Op::kAdd ? "/add/" : "/score/") << RoleName(c.role);
}

std::string CaseName(const ::testing::TestParamInfo<BatchCase>& info) {
  std::string name = info.param.transport + "_" + std::string(PeerName(info.param.peer)) +
                     (info.param.op == Op::kAdd ? "_add" : "_score") +
                     (info.param.role == RowRole::kFloor ? "_floor" : "");
  std::replace(name.begin(), name.end(), '-', '_');  // gtest names: letters, digits, _
  return name;
}

// Every transport x peer: rows of add and score, and the floor of add.
std::vector<BatchCase> AllCases() {
  std::vector<BatchCase> cases;
  for (const auto& t : Transports()) {
    for (PeerKind p : kAllPeers) {
      cases.push_back({std::string(t.name), p, Op::kAdd, RowRole::kRow});
      cases.push_back({std::string(t.name), p, Op::kScore, RowRole::kRow});
      cases.push_back({std::string(t.name), p, Op::kAdd, RowRole::kFloor});
    }
  }
  return cases;
}

class BatchRow : public ::testing::TestWithParam<BatchCase> {
 protected:
  void TearDown() override {
    f.services->Shutdown();
    EXPECT_TRUE(ChildrenOf(::getpid()).empty()) << "a peer outlived its row";
  }
  Fixture f;
};

TEST_P(BatchRow, CarriesBCallsPerMessageWithEveryResultChecked) {
  const BatchCase& c = GetParam();
  RowSpec spec = Spec(c.transport, c.peer, c.role);
  spec.batch = 7;
  RunSettings s = Brief(c.op);
  s.calls = 60;  // messages, of 7 calls each
  const RowResult r = RunRow(spec, s, f.context);
  ASSERT_EQ(r.status, RowStatus::kOk) << r.reason;
  EXPECT_EQ(r.errors, 0u);
  EXPECT_EQ(r.id.batch, 7);
  EXPECT_EQ(r.id.Key().find("/batch:7") != std::string::npos, true) << r.id.Key();
  // One timed sample per message (in-process rows time samples of several messages).
  EXPECT_GE(r.calls, s.calls);
  EXPECT_EQ(r.latency_ns.count * r.calls_per_sample, r.calls);
  // Rows make a throughput run of batches too (16 messages in flight).
  if (c.role == RowRole::kRow) {
    EXPECT_GT(r.calls_per_s, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Peers, BatchRow, ::testing::ValuesIn(AllCases()), CaseName);

// What the C++ peer said last (--count-messages): messages and calls answered.
std::pair<long, long> Counted(const std::string& log_path) {
  std::ifstream in(log_path);
  const std::regex said("answered ([0-9]+) messages holding ([0-9]+) calls");
  std::pair<long, long> last{0, 0};
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (std::regex_search(line, m, said)) last = {std::stol(m[1]), std::stol(m[2])};
  }
  return last;
}

std::vector<std::string> PeerProcessTransports() {
  std::vector<std::string> names;
  for (const auto& t : Transports()) {
    if (t.wait_style != WaitStyle::kInProcess) names.emplace_back(t.name);
  }
  return names;
}

class CountedByThePeer : public ::testing::TestWithParam<std::string> {
 protected:
  void TearDown() override {
    f.services->Shutdown();
    EXPECT_TRUE(ChildrenOf(::getpid()).empty()) << "a peer outlived its row";
  }
  Fixture f;
};

// Every message the peer answered held B calls: had the client sent a
// batch's calls one by one, the peer would count as many messages as calls.
// Single calls, for contrast, are one call a message.
TEST_P(CountedByThePeer, ABatchCrossesAsOneMessage) {
  RunSettings s = Brief();
  s.calls = 40;
  for (int b : {0, 10}) {
    RowSpec spec = Spec(GetParam(), PeerKind::kCpp, RowRole::kRow, {"--count-messages"});
    spec.batch = b;
    const RowResult r = RunRow(spec, s, f.context);
    ASSERT_EQ(r.status, RowStatus::kOk) << r.reason;
    const auto [messages, calls] = Counted(f.context.log_dir + "/" + RowTag(spec) + ".stderr.log");
    EXPECT_GE(messages, 40) << "B=" << b;  // the timed ones, and the warmup's and the throughput run's
    EXPECT_EQ(calls, std::max(1, b) * messages) << "B=" << b;
  }
}

INSTANTIATE_TEST_SUITE_P(CountingPeers, CountedByThePeer, ::testing::ValuesIn(PeerProcessTransports()),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

// Batches under load: K messages of B calls in flight on every transport
// whose client overlaps calls, each message's items kept until its reply.
TEST(BatchUnderLoad, EveryOverlappingTransportKeepsKBatchesInFlight) {
  Fixture f;
  for (const auto& t : Transports()) {
    if (t.overlaps.empty()) continue;
    RowSpec spec = Spec(std::string(t.name), PeerKind::kCpp);
    spec.inflight = 4;
    spec.batch = 50;
    RunSettings s = Brief();
    s.calls = 100;
    s.throughput_s = 0;
    const RowResult r = RunRow(spec, s, f.context);
    ASSERT_EQ(r.status, RowStatus::kOk) << t.name << ": " << r.reason;
    EXPECT_EQ(r.errors, 0u) << t.name;
    EXPECT_EQ(r.calls, s.calls) << t.name;
  }
  f.services->Shutdown();
  EXPECT_TRUE(ChildrenOf(::getpid()).empty()) << "a peer outlived its row";
}

// 16 batch replies of 2,000 adds (32 KB each) outgrow what a pipe or a
// socket buffers while the client is still writing requests of 48 KB: a
// client that only ever blocked in write would deadlock with a peer blocked
// writing its replies. The client takes replies in while a write waits.
TEST(BatchUnderLoad, RepliesThatOutgrowTheStreamDoNotDeadlock) {
  Fixture f;
  for (const char* t : {"pipe", "unix", "tcp"}) {
    for (PeerKind p : kAllPeers) {
      RowSpec spec = Spec(t, p);
      spec.inflight = 16;
      spec.batch = 2000;
      RunSettings s = Brief();
      s.calls = 64;
      s.throughput_s = 0;
      s.call_timeout_s = 10;
      const RowResult r = RunRow(spec, s, f.context);
      ASSERT_EQ(r.status, RowStatus::kOk) << t << "/" << PeerName(p) << ": " << r.reason;
      EXPECT_EQ(r.errors, 0u);
    }
  }
  f.services->Shutdown();
  EXPECT_TRUE(ChildrenOf(::getpid()).empty()) << "a peer outlived its row";
}

// The largest batch each bound lets through crosses whole: raw frames of
// nearly 16 MiB (8,000 scores of 256) over a stream and shared memory.
TEST(BatchBounds, TheLargestRawBatchCrossesWhole) {
  Fixture f;
  for (const char* t : {"unix", "shm-futex"}) {
    RowSpec spec = Spec(t, PeerKind::kCpp);
    spec.batch = 8000;
    RunSettings s = Brief(Op::kScore);
    s.calls = 5;
    s.warmup_s = 0;
    s.throughput_s = 0;
    const RowResult r = RunRow(spec, s, f.context);
    ASSERT_EQ(r.status, RowStatus::kOk) << t << ": " << r.reason;
    EXPECT_EQ(r.errors, 0u) << t;
  }
}

}  // namespace
}  // namespace interop
