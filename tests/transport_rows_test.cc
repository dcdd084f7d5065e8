// Every transport x peer x workload runs for real, briefly, every reply checked.
#include <gtest/gtest.h>

#include <filesystem>

#include "bench/baseline.h"
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

// Readable names in ctest's output instead of the struct's bytes.
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.transport << "/" << PeerName(c.peer) << (c.op == Op::kAdd ? "/add" : "/score");
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  std::string name = info.param.transport + "_" + std::string(PeerName(info.param.peer)) +
                     (info.param.op == Op::kAdd ? "_add" : "_score");
  for (char& c : name) c = c == '-' ? '_' : c;  // gtest names: letters, digits, _
  return name;
}

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (const auto& t : Transports()) {
    for (PeerKind p : kAllPeers) {
      for (Op op : {Op::kAdd, Op::kScore}) cases.push_back({std::string(t.name), p, op});
    }
  }
  return cases;
}

class TransportRow : public ::testing::TestWithParam<Case> {};

TEST_P(TransportRow, RunsWithEveryReplyCheckedAndLeavesNothingBehind) {
  const Case& c = GetParam();
  std::string run_dir;
  {
    Fixture f;
    run_dir = f.dir.path();
    RowSpec spec{FindTransport(c.transport), c.peer, "", false, {}};
    ASSERT_NE(spec.transport, nullptr);
    const RowResult r = RunRow(spec, Brief(c.op), f.context);
    EXPECT_EQ(r.status, "ok") << r.reason;
    EXPECT_EQ(r.errors, 0u);
    EXPECT_GE(r.calls, 300u);
    EXPECT_GT(r.latency_ns.p50, 0);
    EXPECT_LE(r.latency_ns.p50, r.latency_ns.p99);
    EXPECT_LE(r.latency_ns.p99, r.latency_ns.max);
    EXPECT_GT(r.calls_per_s, 0);
    EXPECT_EQ(r.repetitions.size(), 1u);
    // The peer is gone already: RunRow stops and reaps it. Only the private
    // redis-server (a service of the whole run) may still be there.
    for (pid_t pid : ChildrenOf(::getpid())) {
      EXPECT_EQ(CommandName(pid).rfind("redis-server", 0), 0u) << CommandName(pid) << " outlived its row";
    }
    // No socket, segment or handoff file of the row remains in the run dir.
    for (const auto& e : std::filesystem::directory_iterator(run_dir)) {
      const auto name = e.path().filename().string();
      EXPECT_TRUE(name == "logs" || name == "owner.pid" || name == "redis") << name << " left in the run dir";
    }
  }
  // The run is over: nothing at all is left.
  EXPECT_TRUE(ChildrenOf(::getpid()).empty());
  EXPECT_TRUE(OurShmSegments().empty());
  EXPECT_FALSE(std::filesystem::exists(run_dir));
}

INSTANTIATE_TEST_SUITE_P(AllTransportsAllPeers, TransportRow, ::testing::ValuesIn(AllCases()), CaseName);

TEST(TransportRow, LargestScoreVectorCrossesIntact) {
  Fixture f;
  RunSettings s = Brief(Op::kScore);
  s.features = 65536;
  s.calls = 20;
  for (const char* t : {"unix", "pipe", "tcp", "shm-spin", "shm-futex", "file-inotify"}) {
    const RowResult r = RunRow({FindTransport(t), PeerKind::kCpp, "", false, {}}, s, f.context);
    EXPECT_EQ(r.status, "ok") << t << ": " << r.reason;
    EXPECT_EQ(r.errors, 0u) << t;
  }
}

TEST(Baseline, StreamTransportsHaveAnEchoBaseline) {
  Fixture f;
  for (PeerKind p : kAllPeers) {
    const RowResult r = RunBaselineRow({FindTransport("unix"), p, "", false, {}}, Brief(), f.context);
    EXPECT_EQ(r.status, "ok") << PeerName(p) << ": " << r.reason;
    EXPECT_TRUE(r.is_baseline);
    EXPECT_GE(r.calls, 300u);
  }
  EXPECT_TRUE(ChildrenOf(::getpid()).empty());
}

}  // namespace
}  // namespace interop
