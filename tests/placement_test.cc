// The harness stays off the measured core: the watchdog gets a core the
// calling thread does not use, pins itself there, and the caller's CPU
// clock counts every thread of the process, not just the calling one.
#include <gtest/gtest.h>
#include <sched.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>
#include <time.h>

#include "bench/measure.h"
#include "bench/pinning.h"
#include "bench/watchdog.h"

namespace interop {
namespace {

TEST(Placement, TheWatchdogNeverSharesTheCallersCoreWhenThereIsAnother) {
  for (PinPolicy policy : {PinPolicy::kAuto, PinPolicy::kSame, PinPolicy::kSplit}) {
    const Pinning pinning(policy, 2);
    if (pinning.cores() < 2) GTEST_SKIP() << "this machine lets the process use one core";
    for (WaitStyle wait : {WaitStyle::kBlocking, WaitStyle::kSpinning, WaitStyle::kSpinThenSleep, WaitStyle::kInProcess}) {
      const Placement p = pinning.For(wait);
      ASSERT_GE(p.caller_cpu, 0);
      EXPECT_GE(p.watchdog_cpu, 0);
      EXPECT_NE(p.watchdog_cpu, p.caller_cpu) << p.label;
    }
  }
  const Placement unpinned = Pinning(PinPolicy::kNone, 2).For(WaitStyle::kBlocking);
  EXPECT_EQ(unpinned.watchdog_cpu, -1);
  EXPECT_EQ(unpinned.caller_cpu, -1);
}

// The CPUs a thread of this process may run on, found by its name.
std::optional<cpu_set_t> AffinityOfThread(const std::string& name) {
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::string comm;
    std::getline(std::ifstream(task.path() / "comm"), comm);
    if (comm != name) continue;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(std::stoi(task.path().filename()), sizeof set, &set) == 0) return set;
  }
  return std::nullopt;
}

TEST(Placement, ABrokerGoesBesideTheCaller) {
  const Pinning same(PinPolicy::kSame, 2), split(PinPolicy::kSplit, 2), none(PinPolicy::kNone, 2);
  if (split.cores() < 2) GTEST_SKIP() << "this machine lets the process use one core";
  const Placement a = same.For(WaitStyle::kBlocking, /*with_broker=*/true);
  EXPECT_EQ(a.broker_cpu, a.caller_cpu);
  EXPECT_EQ(a.broker_cpu, a.peer_cpu);
  const Placement b = split.For(WaitStyle::kBlocking, true);
  EXPECT_EQ(b.broker_cpu, b.caller_cpu);
  EXPECT_NE(b.broker_cpu, b.peer_cpu);
  EXPECT_EQ(none.For(WaitStyle::kBlocking, true).broker_cpu, -1);
  EXPECT_EQ(split.For(WaitStyle::kBlocking, false).broker_cpu, -1);
}

TEST(Placement, TheWatchdogThreadPinsItselfWhereItIsTold) {
  const Pinning pinning(PinPolicy::kSplit, 2);
  if (pinning.cores() < 2) GTEST_SKIP() << "this machine lets the process use one core";
  const int cpu = pinning.second_cpu();
  Watchdog dog(60, cpu, [] {});
  std::optional<cpu_set_t> set;
  for (int i = 0; i < 100 && !(set && CPU_COUNT(&*set) == 1); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    set = AffinityOfThread("row-watchdog");
  }
  ASSERT_TRUE(set) << "no thread named row-watchdog";
  EXPECT_EQ(CPU_COUNT(&*set), 1);
  EXPECT_TRUE(CPU_ISSET(cpu, &*set));
}

TEST(Placement, TheCallersCpuClockCountsEveryThread) {
  const CpuClock clock = CpuClock::OfThisProcess();
  const double before = *clock.Ns();
  std::thread worker([] {  // a thread working for the row, e.g. gRPC's
    // 60 ms of its own CPU, however long a busy machine takes to give it.
    auto own_ns = [] {
      timespec ts;
      ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
    };
    const double start = own_ns();
    while (own_ns() - start < 60e6) {
    }
  });
  worker.join();  // also the CPU of a thread that has ended
  EXPECT_GE(*clock.Ns() - before, 50e6);
}

}  // namespace
}  // namespace interop
