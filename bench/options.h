// What the command line asked for, and the one place it is checked: options
// become a validated Plan (the rows, their settings, where results go) before
// anything runs. CLI11 parses into BenchOptions in main.cc only (it is
// expensive to compile); every rule about the values lives here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "bench/plan.h"

namespace interop {

// Numbers are parsed signed and wide, so that "-1" reaches MakePlan and gets
// its message there rather than wrapping round to a huge unsigned value.
// Optional fields were not given; MakePlan knows their defaults and refuses
// an option that would have no effect on the run.
struct BenchOptions {
  std::string transports = "all";
  std::string peers = "all";
  std::string workload = "add";
  std::optional<int64_t> features;     // score only; default 256
  std::optional<int64_t> calls;        // excludes duration (main.cc)
  std::optional<double> duration_s;
  std::optional<double> warmup_s;
  std::optional<int64_t> repetitions;
  std::optional<double> throughput_s;
  std::optional<int64_t> inflight;     // default 16; needs a throughput run
  std::string pin = "auto";
  std::string codec;
  bool quick = false;
  bool baseline = false;
  double call_timeout_s = 5;
  double ready_timeout_s = 30;
  std::string out_dir;
  std::string redis_url;                // needs a Redis row
  std::optional<std::string> shm_wait;  // default both; needs an shm row
  std::optional<std::string> file_wait; // default both; needs a file row
};

// Checks every value and makes the plan. Throws UsageError with a message
// that names the option and what it accepts. `usable_cpus` is how many CPUs
// this process may run on (a spinning wait needs two).
Plan MakePlan(const BenchOptions& options, int usable_cpus);
Plan MakePlan(const BenchOptions& options);  // with this process's CPUs

}  // namespace interop
