#include "bench/pinning.h"

#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <chrono>
#include <cstdio>
#include <vector>

#include "bench/process_guard.h"
#include "bench/statistics.h"

namespace interop {

bool ParsePinPolicy(const std::string& text, PinPolicy* out) {
  if (text == "auto") *out = PinPolicy::kAuto;
  else if (text == "same") *out = PinPolicy::kSame;
  else if (text == "split") *out = PinPolicy::kSplit;
  else if (text == "none") *out = PinPolicy::kNone;
  else return false;
  return true;
}

namespace {
// The CPUs the process was allowed when it started, read once.
const cpu_set_t& AllowedCpus() {
  static const cpu_set_t allowed = [] {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (::sched_getaffinity(0, sizeof set, &set) != 0) {
      for (int c = 0; c < CPU_SETSIZE; ++c) CPU_SET(c, &set);
    }
    return set;
  }();
  return allowed;
}
}  // namespace

void PinCurrentThread(int cpu) {
  cpu_set_t set = AllowedCpus();
  if (cpu >= 0) {
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
  }
  ::sched_setaffinity(0, sizeof set, &set);
}

std::vector<double> ForkedRoundTrips(int caller_cpu, int helper_cpu, int round_trips,
                                     const std::function<void()>& serve, const std::function<bool()>& round_trip) {
  const pid_t parent = ::getpid();
  const pid_t helper = ::fork();
  if (helper == 0) {
    if (!BecomeGuardedChild(parent)) _exit(1);
    PinCurrentThread(helper_cpu);
    try {
      serve();
    } catch (...) {
    }
    _exit(0);  // never back into the parent's code
  }
  std::vector<double> samples;
  if (helper < 0) return samples;
  GuardProcessGroup(helper);
  {
    ThreadPin pin(caller_cpu);
    const int warmup = round_trips / 10;
    samples.reserve(static_cast<std::size_t>(round_trips));
    for (int i = 0; i < round_trips + warmup; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      if (!round_trip()) break;
      const auto t1 = std::chrono::steady_clock::now();
      if (i >= warmup) samples.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
    }
  }
  ::kill(helper, SIGKILL);
  ::waitpid(helper, nullptr, 0);
  UnguardProcessGroup(helper);
  return samples;
}

double SocketpairRoundTripP50(int parent_cpu, int child_cpu, int round_trips) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return 0;
  // A read with a 2 s timeout, so a stuck child cannot hang us.
  timeval tv{2, 0};
  ::setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char b[16] = {};
  const std::vector<double> samples = ForkedRoundTrips(
      parent_cpu, child_cpu, round_trips,
      [&] {
        ::close(sv[0]);
        char echo[16];
        while (::read(sv[1], echo, sizeof echo) == static_cast<ssize_t>(sizeof echo)) {
          if (::write(sv[1], echo, sizeof echo) != static_cast<ssize_t>(sizeof echo)) break;
        }
      },
      [&] {
        if (sv[1] >= 0) {  // first round trip, in the parent: the child's end is the child's alone now,
          ::close(sv[1]);  // so a child that died is an end of stream here, not a 2 s timeout
          sv[1] = -1;
        }
        return ::write(sv[0], b, sizeof b) == static_cast<ssize_t>(sizeof b) &&
               ::read(sv[0], b, sizeof b) == static_cast<ssize_t>(sizeof b);
      });
  ::close(sv[0]);
  if (sv[1] >= 0) ::close(sv[1]);  // the fork failed: no round trip ran
  return Summarize(samples).p50;
}

double PinCalibration::Chain::worst() const {
  return p50_ns.empty() ? 0 : *std::max_element(p50_ns.begin(), p50_ns.end());
}

const PinCalibration::Chain* PinCalibration::best_chain() const {
  if (!chains_done) return nullptr;
  const Chain* best = nullptr;
  for (const auto& c : chains) {
    if (!best || c.worst() < best->worst()) best = &c;
  }
  return best;
}

Pinning::Pinning(PinPolicy policy, int cores) : policy_(policy), cores_(cores) {
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE; ++c) {
    if (CPU_ISSET(c, &AllowedCpus())) cpus.push_back(c);
  }
  if (cores_ <= 0 || cores_ > static_cast<int>(cpus.size())) cores_ = static_cast<int>(cpus.size());
  if (!cpus.empty()) first_cpu_ = cpus[0];
  if (cpus.size() > 1) second_cpu_ = cpus[1];
  // With one core there is nothing to split.
  if (cores_ < 2 && policy_ == PinPolicy::kSplit) policy_ = PinPolicy::kSame;
}

double PinCalibration::same_core_worst() const {
  return same_core_p50_ns.empty() ? 0 : *std::max_element(same_core_p50_ns.begin(), same_core_p50_ns.end());
}
double PinCalibration::split_cores_worst() const {
  return split_cores_p50_ns.empty() ? 0 : *std::max_element(split_cores_p50_ns.begin(), split_cores_p50_ns.end());
}

void Pinning::Calibrate(const BrokerRoundTrip& broker) {
  if (policy_ != PinPolicy::kAuto || cores_ < 2) return;
  bool ok = true;
  for (int round = 0; round < 3; ++round) {  // alternate, so drift hits both alike
    calibration_.same_core_p50_ns.push_back(SocketpairRoundTripP50(first_cpu_, first_cpu_, 1000));
    calibration_.split_cores_p50_ns.push_back(SocketpairRoundTripP50(first_cpu_, second_cpu_, 1000));
    ok &= calibration_.same_core_p50_ns.back() > 0 && calibration_.split_cores_p50_ns.back() > 0;
  }
  calibration_.done = ok;
  if (!broker) return;
  calibration_.chains = {{"same", false, false, {}},
                         {"split, broker with the caller", true, false, {}},
                         {"split, broker with the peer", true, true, {}},
                         {"sides together, broker apart", false, true, {}}};
  bool chains_ok = true;
  for (int round = 0; round < 3; ++round) {
    for (auto& c : calibration_.chains) {
      c.p50_ns.push_back(broker(first_cpu_, c.peer_apart ? second_cpu_ : first_cpu_,
                                c.broker_apart ? second_cpu_ : first_cpu_));
      chains_ok &= c.p50_ns.back() > 0;
    }
  }
  calibration_.chains_done = chains_ok;
}

bool PinProcess(pid_t pid, int cpu) {
  cpu_set_t set = AllowedCpus();
  if (cpu >= 0) {
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
  }
  // Every thread: redis-server has background threads besides its main one.
  std::error_code ec;
  bool any = false;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    any |= ::sched_setaffinity(static_cast<pid_t>(std::stol(task.path().filename())), sizeof set, &set) == 0;
  }
  return any;
}

Placement Pinning::For(WaitStyle wait, bool with_broker) const {
  // Any core the caller does not use; on one core there is no other.
  auto away_from = [this](int caller) { return cores_ < 2 ? caller : (caller == first_cpu_ ? second_cpu_ : first_cpu_); };
  if (wait == WaitStyle::kInProcess) {
    // One process: pin it unless told not to, so it does not migrate mid-run.
    if (policy_ == PinPolicy::kNone) return {-1, -1, -1, -1, "-"};
    return {first_cpu_, -1, -1, away_from(first_cpu_), "-"};
  }
  PinPolicy p = policy_;
  // Never spin with both sides on one core: the spinner would hold the core
  // until the scheduler tick (~8 ms) on every call. bench refuses --pin=same
  // for a spinning row (bench/options.cc); --pin=none leaves it unpinned.
  if (wait == WaitStyle::kSpinning && cores_ >= 2 && p != PinPolicy::kNone) p = PinPolicy::kSplit;
  if (p == PinPolicy::kAuto) {
    if (cores_ < 2) {
      p = PinPolicy::kSame;
    } else if (wait == WaitStyle::kSpinning || wait == WaitStyle::kSpinThenSleep) {
      p = PinPolicy::kSplit;  // a poll can only see the other side's write if it runs elsewhere
    } else {
      p = (calibration_.done && calibration_.split_cores_worst() < calibration_.same_core_worst())
              ? PinPolicy::kSplit : PinPolicy::kSame;
    }
  }
  // A broker under `same` is on the one core of all three. Under `split`
  // (three processes, two cores) it shares a core with one side, and the
  // wake-ups are the same either way (each call hops caller -> broker ->
  // peer and back, so two of its four hops cross cores wherever the broker
  // sits); beside the caller it leaves the peer, the side that does the
  // work (a Python or Ruby runtime), a core of its own. Under `auto` the
  // broker calibration decides, among those and a broker alone.
  const int other = cores_ < 2 ? first_cpu_ : second_cpu_;
  const PinCalibration::Chain* chain = with_broker && policy_ == PinPolicy::kAuto && wait == WaitStyle::kBlocking
                                           ? calibration_.best_chain()
                                           : nullptr;
  if (chain) {
    const int peer = chain->peer_apart ? other : first_cpu_;
    return {first_cpu_, peer, chain->broker_apart ? other : first_cpu_, away_from(first_cpu_),
            chain->peer_apart ? "split" : "same"};
  }
  const int broker = with_broker ? first_cpu_ : -1;
  switch (p) {
    case PinPolicy::kSame: return {first_cpu_, first_cpu_, broker, away_from(first_cpu_), "same"};
    case PinPolicy::kSplit: return {first_cpu_, other, broker, away_from(first_cpu_), "split"};
    default: return {-1, -1, -1, -1, "none"};
  }
}

std::string Pinning::Describe() const {
  static const char* names[] = {"auto", "same", "split", "none"};
  std::string s = std::string("--pin=") + names[static_cast<int>(policy_)] + " on " +
                  std::to_string(cores_) + " core(s)";
  if (calibration_.done) {
    auto rounds = [](const std::vector<double>& v) {
      std::string out;
      char buf[32];
      for (double ns : v) {
        std::snprintf(buf, sizeof buf, "%s%.1f", out.empty() ? "" : "/", ns / 1000);
        out += buf;
      }
      return out + " us";
    };
    s += "; calibration (socketpair round trip p50 per round): same core " + rounds(calibration_.same_core_p50_ns) +
         ", split cores " + rounds(calibration_.split_cores_p50_ns) + " -> blocking waits: " +
         For(WaitStyle::kBlocking).label + " (lower worst round); spinning and spin-then-sleep waits: split";
  }
  if (const PinCalibration::Chain* best = calibration_.best_chain()) {
    s += "; with the broker (a queue call's round trip p50 per round):";
    for (const auto& c : calibration_.chains) {
      char buf[32];
      std::string rounds;
      for (double ns : c.p50_ns) {
        std::snprintf(buf, sizeof buf, "%s%.1f", rounds.empty() ? "" : "/", ns / 1000);
        rounds += buf;
      }
      s += " " + c.name + " " + rounds + " us,";
    }
    s += " -> " + best->name;
  }
  return s;
}

}  // namespace interop
