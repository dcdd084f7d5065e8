// Every transport x peer x workload runs for real, briefly, every reply
// checked: as a row (the peer computes) and as a floor (the peer echoes the
// very bytes, and the harness checks they came back unchanged).
#include <gtest/gtest.h>

#include <filesystem>

#include "test_support.h"
#include "transports/registry.h"

namespace interop {
namespace {

using namespace testing_support;

struct Case {
  std::string transport;
  PeerKind peer;
  Op op;
  RowRole role;
};

// Readable names in ctest's output instead of the struct's bytes.
void PrintTo(const Case& c, std::ostream* os) {
  *os << c.transport << "/" << PeerName(c.peer) << (c.op == Op::kAdd ? "/add/" : "/score/") << RoleName(c.role);
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  std::string name = info.param.transport + "_" + std::string(PeerName(info.param.peer)) +
                     (info.param.op == Op::kAdd ? "_add" : "_score") +
                     (info.param.role == RowRole::kFloor ? "_floor" : "");
  for (char& c : name) c = c == '-' ? '_' : c;  // gtest names: letters, digits, _
  return name;
}

std::vector<Case> AllCases() {
  std::vector<Case> cases;
  for (const auto& t : Transports()) {
    for (PeerKind p : kAllPeers) {
      for (Op op : {Op::kAdd, Op::kScore}) {
        for (RowRole role : {RowRole::kRow, RowRole::kFloor}) cases.push_back({std::string(t.name), p, op, role});
      }
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
    const RowResult r = RunRow(Spec(c.transport, c.peer, c.role), Brief(c.op), f.context);
    EXPECT_EQ(r.status, RowStatus::kOk) << r.reason;
    EXPECT_EQ(r.errors, 0u);
    EXPECT_GE(r.calls, 300u);
    EXPECT_EQ(r.id.role, c.role);
    EXPECT_GT(r.latency_ns.p50, 0);
    ASSERT_EQ(r.repetitions.size(), 1u);
    EXPECT_EQ(r.repetitions[0].calls, r.calls);
    // Floors are a latency reference: only rows get a throughput run.
    if (c.role == RowRole::kRow) EXPECT_GT(r.calls_per_s, 0);
    else EXPECT_EQ(r.throughput_inflight, 0);
    // Every party's CPU is accounted: the caller always, the peer when there
    // is one, the broker (the private redis-server) on the Redis rows.
    EXPECT_TRUE(r.cpu_ns_per_call.caller.has_value());
    EXPECT_EQ(r.cpu_ns_per_call.peer.has_value(), c.transport != "ffi");
    EXPECT_EQ(r.cpu_ns_per_call.broker.has_value(), FindTransport(c.transport)->needs_redis);
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
    const RowResult r = RunRow(Spec(t, PeerKind::kCpp), s, f.context);
    EXPECT_EQ(r.status, RowStatus::kOk) << t << ": " << r.reason;
    EXPECT_EQ(r.errors, 0u) << t;
  }
}

// The checks can fail: a row's client given an echo instead of an answer
// counts every call as an error, whatever the transport makes of the bytes.
// (Redis is left out: its echo goes to another list, so a row would only time out.)
TEST(TransportRow, AnEchoIsNeverTakenForAnAnswer) {
  {
    Fixture f;
    for (const char* t : {"unix", "shm-spin", "rest", "grpc", "grpc-stream", "file-inotify"}) {
      const RowResult r = RunRow(Spec(t, PeerKind::kCpp, RowRole::kRow, {"--echo"}), Brief(), f.context);
      EXPECT_EQ(r.status, RowStatus::kFailed) << t;
      EXPECT_GT(r.errors, 0u) << t;
      EXPECT_EQ(r.calls, 0u) << t << ": no echo may be timed as a call";
    }
  }
  EXPECT_TRUE(ChildrenOf(::getpid()).empty());
}

}  // namespace
}  // namespace interop
