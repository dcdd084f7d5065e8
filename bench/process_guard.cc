#include "bench/process_guard.h"

#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <atomic>

namespace interop {
namespace {

constexpr int kSlots = 64;
std::atomic<pid_t> g_groups[kSlots];
std::atomic<int> g_signal{0};
int g_wake_fd = -1;

void OnStopSignal(int sig) {
  // The flag first: a child registered after the kill loop sees it and goes.
  int none = 0;
  g_signal.compare_exchange_strong(none, sig);  // the first signal is the one reported
  for (auto& slot : g_groups) {
    const pid_t pgid = slot.load();
    if (pgid > 0) ::kill(-pgid, SIGKILL);
  }
  if (g_wake_fd >= 0) {
    const uint64_t one = 1;
    (void)!::write(g_wake_fd, &one, sizeof one);  // wakes a waiting watchdog now
  }
}

}  // namespace

void InstallProcessGuard() {
  ::signal(SIGPIPE, SIG_IGN);
  g_wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: blocking calls return EINTR and notice
  for (int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

void GuardProcessGroup(pid_t pgid) {
  for (auto& slot : g_groups) {
    pid_t expected = 0;
    if (slot.compare_exchange_strong(expected, pgid)) break;
  }
  // Started as the signal arrived (after the handler's kill loop): it goes too.
  if (Interrupted()) ::kill(-pgid, SIGKILL);
}

void UnguardProcessGroup(pid_t pgid) {
  for (auto& slot : g_groups) {
    pid_t expected = pgid;
    if (slot.compare_exchange_strong(expected, 0)) return;
  }
}

bool Interrupted() { return g_signal.load(std::memory_order_relaxed) != 0; }
int InterruptSignal() { return g_signal.load(); }
int InterruptWakeFd() { return g_wake_fd; }

std::string SignalName(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}
int InterruptExitCode() { return 128 + g_signal.load(); }

bool BecomeGuardedChild(pid_t parent) {
  ::setpgid(0, 0);
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  // The parent may have died between fork() and prctl(): then nobody would kill us.
  return ::getppid() == parent;
}

}  // namespace interop
