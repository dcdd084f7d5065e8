// Rows under load (--inflight=K) against the real peers: every transport
// whose client keeps calls in flight does so with every peer, every reply
// checked, and the C++ peer's own count shows K requests really were
// outstanding at once (so a client making its calls one after another could
// not pass for a concurrent one).
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

struct Case {
  std::string transport;
  PeerKind peer;
  Op op;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.transport << "/" << PeerName(c.peer) << (c.op == Op::kAdd ? "/add" : "/score");
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  std::string name = info.param.transport + "_" + std::string(PeerName(info.param.peer)) +
                     (info.param.op == Op::kAdd ? "_add" : "_score");
  for (char& c : name) c = c == '-' ? '_' : c;
  return name;
}

// The transports whose client overlaps calls (TransportSpec::overlaps), with every peer.
std::vector<Case> OverlappingCases() {
  std::vector<Case> cases;
  for (const auto& t : Transports()) {
    if (t.overlaps.empty()) continue;
    for (PeerKind p : kAllPeers) {
      for (Op op : {Op::kAdd, Op::kScore}) cases.push_back({std::string(t.name), p, op});
    }
  }
  return cases;
}

class InflightRow : public ::testing::TestWithParam<Case> {
 protected:
  void TearDown() override {
    f.services->Shutdown();
    EXPECT_TRUE(ChildrenOf(::getpid()).empty()) << "a peer outlived its row";
  }
  Fixture f;
};

TEST_P(InflightRow, KeepsKCallsInFlightWithEveryReplyChecked) {
  const Case& c = GetParam();
  RowSpec spec = Spec(c.transport, c.peer);
  spec.inflight = 8;
  RunSettings s = Brief(c.op);
  s.throughput_s = 0;  // as MakePlan sets it: calls/s is the row's own run's
  const RowResult r = RunRow(spec, s, f.context);
  ASSERT_EQ(r.status, RowStatus::kOk) << r.reason;
  EXPECT_EQ(r.errors, 0u);
  EXPECT_EQ(r.calls, s.calls);
  EXPECT_EQ(r.latency_ns.count, s.calls);  // every call under load is timed, send to reply
  EXPECT_EQ(r.id.inflight, 8);
  EXPECT_GT(r.calls_per_s, 0);
  EXPECT_EQ(r.throughput_inflight, 8);
}

INSTANTIATE_TEST_SUITE_P(Peers, InflightRow, ::testing::ValuesIn(OverlappingCases()), CaseName);

// Repetitions of one pass reuse the client: its K connections (REST) or
// slots stay set up from one load repetition to the next.
TEST(InflightRepetitions, EveryTransportKeepsKInFlightAcrossRepetitionsOfOnePass) {
  Fixture f;
  for (const char* t : {"rest", "shm-futex", "file-inotify", "redis", "unix"}) {
    RowSpec spec = Spec(t, PeerKind::kCpp, RowRole::kRow);
    spec.inflight = 8;
    RunSettings s = Brief();
    s.throughput_s = 0;
    s.repetitions = 3;
    const RowResult r = RunRow(spec, s, f.context);
    ASSERT_EQ(r.status, RowStatus::kOk) << t << ": " << r.reason;
    EXPECT_EQ(r.errors, 0u) << t;
    EXPECT_EQ(r.repetitions.size(), 3u) << t;
    EXPECT_EQ(r.calls, 3 * s.calls) << t;
  }
  f.services->Shutdown();
  EXPECT_TRUE(ChildrenOf(::getpid()).empty()) << "a peer outlived its row";
}

// The most requests the C++ peer said it held at once (--count-held), from its stderr.
int MostHeld(const std::string& log_path) {
  std::ifstream in(log_path);
  const std::regex said("held at most ([0-9]+) requests at once");
  int most = 0;
  std::smatch m;
  for (std::string line; std::getline(in, line);) {
    if (std::regex_search(line, m, said)) most = std::max(most, std::stoi(m[1]));
  }
  return most;
}

class HeldByThePeer : public ::testing::TestWithParam<std::string> {
 protected:
  void TearDown() override {
    f.services->Shutdown();  // the Redis rows' private server
    EXPECT_TRUE(ChildrenOf(::getpid()).empty()) << "a peer outlived its row";
  }
  Fixture f;
};

// The peer takes 200 us per request (a planted sleep: a server with a thread
// per call lets the others in meanwhile), so a client that really keeps K in
// flight has them all at the peer by the time it answers; a client that sent
// one at a time would leave it holding one. Each server counts what it can
// see of its backlog (peers/README.md, --count-held).
TEST_P(HeldByThePeer, HoldsKRequestsAtOnceUnderLoadAndOneWithout) {
  RunSettings s = Brief();
  s.calls = 200;
  s.throughput_s = 0;
  for (int k : {1, 8}) {
    RowSpec spec = Spec(GetParam(), PeerKind::kCpp, RowRole::kRow, {"--count-held", "--fault=pause=200000"});
    spec.inflight = k;
    const RowResult r = RunRow(spec, s, f.context);
    ASSERT_EQ(r.status, RowStatus::kOk) << r.reason;
    EXPECT_EQ(r.errors, 0u);
    EXPECT_EQ(MostHeld(f.context.log_dir + "/" + RowTag(spec) + ".stderr.log"), k) << "K=" << k;
  }
}

// Every transport whose client says it overlaps calls is held to it.
std::vector<std::string> OverlappingTransports() {
  std::vector<std::string> names;
  for (const auto& t : Transports()) {
    if (!t.overlaps.empty()) names.emplace_back(t.name);
  }
  return names;
}

INSTANTIATE_TEST_SUITE_P(CountingPeers, HeldByThePeer, ::testing::ValuesIn(OverlappingTransports()),
                         [](const auto& info) {
                           std::string name = info.param;
                           std::replace(name.begin(), name.end(), '-', '_');  // gtest names: [A-Za-z0-9_]
                           return name;
                         });

}  // namespace
}  // namespace interop
