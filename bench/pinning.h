// Where the harness and the peer run. On a VM a cross-core wake-up can cost
// several times a same-core one, while a spinning wait needs two cores (on one
// core the spinner holds the CPU until the scheduler tick). So --pin=auto
// decides per wait style: spinning waits always get split cores; blocking
// waits get whichever a short calibration at start measured cheaper here.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <vector>

#include "bench/placement.h"
#include "transports/registry.h"

namespace interop {

enum class PinPolicy { kAuto, kSame, kSplit, kNone };

// Parses "auto|same|split|none"; false if unknown.
bool ParsePinPolicy(const std::string& text, PinPolicy* out);

// A placement's cost is judged by its worst round: on a VM a cross-core
// wake-up can be cheap for one pair of processes and dear for the next, and a
// placement that is only sometimes cheap would make rows unrepeatable.
struct PinCalibration {
  bool done = false;
  std::vector<double> same_core_p50_ns;    // socketpair round trip p50, one fresh pair per round
  std::vector<double> split_cores_p50_ns;  // the same across two cores
  double same_core_worst() const;
  double split_cores_worst() const;

  // With a broker (a third process every call passes through), the two
  // sides' figures do not tell: three processes on one core queue behind
  // each other, and a broker on a core of its own can overlap its work with
  // theirs (a synthetic relay of bare sockets favoured one core here, real
  // Redis calls a broker apart). So each placement of a round trip through
  // the broker itself is timed too, the same way.
  struct Chain {
    std::string name;  // "same", "split, broker with the caller", ...
    bool peer_apart;   // the peer on the other core than the caller
    bool broker_apart; // the broker on the other core than the caller
    std::vector<double> p50_ns;  // one fresh trio of processes per round
    double worst() const;
  };
  bool chains_done = false;
  std::vector<Chain> chains;
  const Chain* best_chain() const;  // lowest worst round; nullptr if not calibrated
};

class Pinning {
 public:
  // cores: how many CPUs this process may use (0: ask the kernel).
  Pinning(PinPolicy policy, int cores = 0);

  // A round trip through the run's broker with caller, peer and broker on
  // the CPUs given: its median, in ns (0: it could not be measured).
  using BrokerRoundTrip = std::function<double(int caller_cpu, int peer_cpu, int broker_cpu)>;

  // For auto: times a C++ socketpair ping-pong on one core and across two,
  // in 3 rounds of 1000 round trips each with a fresh child process per
  // round; given a broker round trip (a row of the run has a broker of
  // ours), also each placement of that. Does nothing for other policies or
  // one core.
  void Calibrate(const BrokerRoundTrip& broker = nullptr);

  // Where a row of this wait style runs. The watchdog gets a core the caller
  // does not use: a free one under `same`, the peer's under `split` (it wakes
  // once a second); only a machine with one core puts it beside the caller.
  // with_broker: a third process every call passes through (a broker) is
  // placed too: with both under `same`, beside the caller under `split`,
  // and under `auto` as its broker calibration found cheapest.
  Placement For(WaitStyle wait, bool with_broker = false) const;
  int cores() const { return cores_; }
  // The CPUs rows are placed on: the first two this process may run on.
  int first_cpu() const { return first_cpu_; }
  int second_cpu() const { return second_cpu_; }
  // One line for the console and the JSON: the policy, the calibration, the choice.
  std::string Describe() const;
  const PinCalibration& calibration() const { return calibration_; }
  PinPolicy policy() const { return policy_; }

 private:
  PinPolicy policy_;
  int cores_;
  int first_cpu_ = 0;
  int second_cpu_ = 1;
  PinCalibration calibration_;
};

// Pins the calling thread to one CPU, or (cpu < 0) gives it back every CPU
// the process was allowed at start (respecting taskset and cpusets).
void PinCurrentThread(int cpu);

// Pins every thread of a process (one we started: a broker) to one CPU, or
// (cpu < 0) gives them every CPU this process was allowed. False if the
// process is gone.
bool PinProcess(pid_t pid, int cpu);

// Pins the calling thread for as long as it lives, then gives it back every
// CPU the process was allowed (also when the scope is left by an exception).
class ThreadPin {
 public:
  explicit ThreadPin(int cpu) { PinCurrentThread(cpu); }
  ~ThreadPin() { PinCurrentThread(-1); }
  ThreadPin(const ThreadPin&) = delete;
  ThreadPin& operator=(const ThreadPin&) = delete;
};

// Pins every thread of a process for as long as it lives, then gives them
// back every CPU (a broker placed for one row).
class ProcessPin {
 public:
  ProcessPin(pid_t pid, int cpu) : pid_(pid) { PinProcess(pid, cpu); }
  ~ProcessPin() { PinProcess(pid_, -1); }
  ProcessPin(const ProcessPin&) = delete;
  ProcessPin& operator=(const ProcessPin&) = delete;

 private:
  pid_t pid_;
};

// Median of round trips of a minimal C++ socketpair ping-pong with the child
// on child_cpu and this thread on parent_cpu (-1: unpinned).
double SocketpairRoundTripP50(int parent_cpu, int child_cpu, int round_trips);

// The calibrations' ping-pong: forks a helper process pinned to helper_cpu
// that runs `serve` until it is killed, then times round_trips round trips
// to it from this thread pinned to caller_cpu (after a tenth as many
// untimed), each made by `round_trip` (false: it failed, and the timing
// stops). The helper is guarded, then killed and reaped. The samples, in ns.
std::vector<double> ForkedRoundTrips(int caller_cpu, int helper_cpu, int round_trips,
                                     const std::function<void()>& serve, const std::function<bool()>& round_trip);



}  // namespace interop
