// Peers that crash, hang, never get ready or answer wrongly: the row fails with
// the reason, nothing is left behind. Faults come from the real C++ peer's
// --fault option, so the harness runs exactly its production code paths.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <filesystem>
#include <thread>

#include "bench/peer_process.h"
#include "test_support.h"
#include "transports/shm/shm_segment.h"
#include "transports/registry.h"

namespace interop {
namespace {

using namespace testing_support;
using ::testing::HasSubstr;

RowResult RunFaulty(const std::string& transport, const std::string& fault, RunSettings s, Fixture& f) {
  return RunRow(Spec(transport, PeerKind::kCpp, RowRole::kRow, {"--fault=" + fault}), s, f.context);
}

class Lifecycle : public ::testing::Test {
 protected:
  void TearDown() override {
    EXPECT_TRUE(ChildrenOf(::getpid()).empty()) << "a peer outlived its row";
  }
  Fixture f;
};

TEST_F(Lifecycle, PeerThatCrashesMidRunFailsItsRowWithExitStatusAndStderr) {
  RunSettings s = Brief();
  s.calls = 2000;
  const RowResult r = RunFaulty("unix", "crash-after=100", s, f);
  EXPECT_EQ(r.status, RowStatus::kFailed);
  EXPECT_THAT(r.reason, HasSubstr("killed by signal 6"));
  EXPECT_THAT(r.reason, HasSubstr("crashing on request 101"));  // the peer's last stderr line
}

TEST_F(Lifecycle, PeerKilledFromOutsideMidRunFailsItsRow) {
  RunSettings s = Brief();
  s.calls = 0;
  s.duration_s = 5;  // long enough to be killed in the middle
  ChildKiller killer("cpp_peer", std::chrono::milliseconds(200));
  const RowResult r = RunFaulty("tcp", "", s, f);  // no fault: a healthy peer, killed
  ASSERT_TRUE(killer.killed());
  EXPECT_EQ(r.status, RowStatus::kFailed);
  EXPECT_THAT(r.reason, HasSubstr("killed by signal 9"));
}

// The shared-memory and file tiers own a segment and a directory: a peer
// killed in the middle of a call must leave neither behind.
TEST_F(Lifecycle, PeerKilledMidRunLeavesNoSegmentOrHandoffDir) {
  for (const char* transport : {"shm-spin", "shm-futex", "file-inotify"}) {
    RunSettings s = Brief();
    s.calls = 0;
    s.duration_s = 5;
    s.call_timeout_s = 2;
    ChildKiller killer("cpp_peer", std::chrono::milliseconds(200));
    const RowResult r = RunFaulty(transport, "", s, f);
    ASSERT_TRUE(killer.killed()) << transport;
    EXPECT_EQ(r.status, RowStatus::kFailed) << transport;
    EXPECT_THAT(r.reason, HasSubstr("killed by signal 9")) << transport;
    EXPECT_TRUE(OurShmSegments().empty()) << transport;
    for (const auto& e : std::filesystem::directory_iterator(f.dir.path())) {
      EXPECT_EQ(e.path().extension(), e.path().extension() == ".handoff" ? "" : e.path().extension())
          << e.path() << " left behind";
    }
  }
}

TEST_F(Lifecycle, PeerThatNeverPrintsReadyTimesOut) {
  RunSettings s = Brief();
  s.ready_timeout_s = 1;
  const auto t0 = std::chrono::steady_clock::now();
  const RowResult r = RunFaulty("unix", "no-ready", s, f);
  EXPECT_EQ(r.status, RowStatus::kFailed);
  EXPECT_THAT(r.reason, HasSubstr("no READY line within 1 s"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}

TEST_F(Lifecycle, PeerThatStopsAnsweringIsCutOffByTheCallTimeout) {
  RunSettings s = Brief();
  s.calls = 1000;
  s.call_timeout_s = 1;
  const RowResult r = RunFaulty("pipe", "hang-after=50", s, f);
  EXPECT_EQ(r.status, RowStatus::kFailed);
  EXPECT_THAT(r.reason, HasSubstr("no reply within 1 s"));
}

TEST_F(Lifecycle, WrongValuesAreCountedAsErrors) {
  const RowResult r = RunFaulty("unix", "wrong-value", Brief(), f);
  EXPECT_GT(r.errors, 0u);
  EXPECT_EQ(r.status, RowStatus::kFailed);
  EXPECT_THAT(r.reason, HasSubstr("expected"));
  // Wrong replies are counted, never timed: only the right ones became samples.
  EXPECT_LT(r.calls, 300u + r.errors);
}

TEST_F(Lifecycle, WrongIdsAreCountedAsErrors) {
  const RowResult r = RunFaulty("tcp", "wrong-id", Brief(Op::kScore), f);
  EXPECT_GT(r.errors, 0u);
  EXPECT_THAT(r.reason, HasSubstr("reply id"));
}

TEST_F(Lifecycle, UnknownTransportInThePeerIsAStartFailure) {
  PeerLaunch launch;
  launch.argv = {"/bin/sh", "-c", "echo 'cpp peer: nope' >&2; exit 2"};
  launch.log_path = f.log_dir + "/sh.log";
  launch.ready_timeout_s = 5;
  try {
    PeerProcess p(launch);
    FAIL() << "expected PeerError";
  } catch (const PeerError& e) {
    EXPECT_THAT(std::string(e.what()), HasSubstr("exited with status 2 before READY"));
    EXPECT_THAT(std::string(e.what()), HasSubstr("cpp peer: nope"));
  }
}

TEST_F(Lifecycle, StalePrivateDirsOfDeadRunsAreRemoved) {
  // A run dir whose owner is gone, as a SIGKILLed bench leaves it.
  const std::string stale = TempRoot() + "/interop-spectrum-staletest";
  std::filesystem::create_directories(stale);
  std::ofstream(stale + "/owner.pid") << 999999999 << "\n";  // above pid_max: never alive
  EXPECT_GE(RemoveStaleTempDirs(), 1);
  EXPECT_FALSE(std::filesystem::exists(stale));
  // The same for a shared-memory segment of a dead run.
  const auto segment = shm::Segment::Create("/interop-spectrum-999999999-staletest", shm::WaitMode::kSpin, 0);
  EXPECT_GE(shm::RemoveStaleSegments(), 1);
  EXPECT_FALSE(std::filesystem::exists("/dev/shm/interop-spectrum-999999999-staletest"));
  EXPECT_TRUE(std::filesystem::exists(f.dir.path())) << "a live run's dir must survive";
}

// delay=NS, the planted slowdown bench --peer-fault uses to test compare:
// every call of the row waits at least NS in the peer; an echoing peer (a
// floor) drops it and says so, so the floor stays the floor.
TEST_F(Lifecycle, ADelayFaultSlowsTheRowAndLeavesTheFloorAlone) {
  RunSettings s = Brief();
  s.calls = 30;
  const RowResult row = RunFaulty("unix", "delay=3000000", s, f);  // 3 ms per request
  ASSERT_EQ(row.status, RowStatus::kOk) << row.reason;
  EXPECT_GE(row.latency_ns.min, 3e6);
  const RowResult floor =
      RunRow(Spec("unix", PeerKind::kCpp, RowRole::kFloor, {"--fault=delay=3000000"}), s, f.context);
  ASSERT_EQ(floor.status, RowStatus::kOk) << floor.reason;
  EXPECT_LT(floor.latency_ns.p50, 3e6);
  EXPECT_THAT(FileTail(f.context.log_dir + "/unix-cpp-floor.stderr.log", 5), HasSubstr("is not applied with --echo"));
}

// Every fault mode of the C++ peer on every transport it serves (all the
// out-of-process ones): each works, as the harness sees it through the real
// row path, or is refused with exit 2 (peers/README.md has the table).
const char* const kPeerTransports[] = {"shm-spin", "shm-futex", "unix", "pipe", "tcp", "rest", "grpc", "grpc-stream",
                                       "redis", "redis-stream", "file-inotify", "file-poll"};
const char* const kFaults[] = {"wrong-value", "wrong-id", "crash-after=20", "hang-after=20", "no-ready"};

// A run context for one transport's faults; nothing may outlive it.
template <typename Param>
class FaultFixture : public ::testing::TestWithParam<Param> {
 protected:
  void TearDown() override {
    f.services->Shutdown();  // the private redis-server of the Redis rows lives as long as the run
    EXPECT_TRUE(ChildrenOf(::getpid()).empty()) << "a peer outlived its row";
  }
  Fixture f;
};

// A test name from transport and mode: "redis_stream_crash_after_20".
std::string TestName(std::string name) {
  for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return name;
}

class FaultMode : public FaultFixture<std::tuple<const char*, const char*>> {};

TEST_P(FaultMode, FailsTheRowAsTheModeSays) {
  const auto [transport, fault] = GetParam();
  RunSettings s = Brief(std::string(transport).find("grpc") == 0 ? Op::kScore : Op::kAdd);
  s.calls = 200;
  s.call_timeout_s = 1;
  s.ready_timeout_s = std::string(fault) == "no-ready" ? 1 : 30;
  const RowResult r = RunFaulty(transport, fault, s, f);
  EXPECT_EQ(r.status, RowStatus::kFailed) << r.reason;
  const std::string mode = fault;
  if (mode == "wrong-value") {
    EXPECT_GT(r.errors, 0u);
    EXPECT_THAT(r.reason, HasSubstr("expected"));
  } else if (mode == "wrong-id") {
    EXPECT_GT(r.errors, 0u);
    EXPECT_THAT(r.reason, HasSubstr("reply id"));
  } else if (mode == "crash-after=20") {
    EXPECT_THAT(r.reason, HasSubstr("killed by signal 6"));
    EXPECT_THAT(r.reason, HasSubstr("crashing on request 21"));
  } else if (mode == "hang-after=20") {
    EXPECT_THAT(r.reason, HasSubstr("no reply within 1 s"));
  } else {
    EXPECT_THAT(r.reason, HasSubstr("no READY line within 1 s"));
  }
}

INSTANTIATE_TEST_SUITE_P(Lifecycle, FaultMode,
                         ::testing::Combine(::testing::ValuesIn(kPeerTransports), ::testing::ValuesIn(kFaults)),
                         [](const ::testing::TestParamInfo<FaultMode::ParamType>& info) {
                           return TestName(std::string(std::get<0>(info.param)) + "_" + std::get<1>(info.param));
                         });

// In echo mode (a floor) the peer sends the request's own bytes back: there
// is no result or id of its own to get wrong, so wrong-value and wrong-id are
// refused at start (exit 2); crash-after counts echoed requests as well.
class EchoFaultMode : public FaultFixture<const char*> {};

TEST_P(EchoFaultMode, SpoilingFaultsAreRefusedAndCrashesWork) {
  RunSettings s = Brief();
  s.calls = 200;
  s.call_timeout_s = 1;
  for (const char* fault : {"wrong-value", "wrong-id"}) {
    const RowResult r = RunRow(Spec(GetParam(), PeerKind::kCpp, RowRole::kFloor, {std::string("--fault=") + fault}),
                               s, f.context);
    EXPECT_EQ(r.status, RowStatus::kFailed) << fault;
    EXPECT_THAT(r.reason, HasSubstr("exited with status 2 before READY")) << fault;
    EXPECT_THAT(r.reason, HasSubstr("cannot be used with --echo")) << fault;
  }
  const RowResult r = RunRow(Spec(GetParam(), PeerKind::kCpp, RowRole::kFloor, {"--fault=crash-after=20"}), s, f.context);
  EXPECT_EQ(r.status, RowStatus::kFailed);
  EXPECT_THAT(r.reason, HasSubstr("crashing on request 21"));
}

INSTANTIATE_TEST_SUITE_P(Lifecycle, EchoFaultMode, ::testing::ValuesIn(kPeerTransports),
                         [](const ::testing::TestParamInfo<const char*>& info) { return TestName(info.param); });

}  // namespace
}  // namespace interop
