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
  std::optional<std::string> transports;  // default all (--ci: one row per tier)
  std::optional<std::string> peers;       // default all (--ci: cpp)
  std::string workload = "add";
  std::optional<std::string> features;  // score only: "256" or a list "16,4096"; default 256
  std::optional<int64_t> calls;        // excludes duration (main.cc)
  std::optional<double> duration_s;
  std::optional<double> warmup_s;
  std::optional<int64_t> repetitions;
  std::optional<double> throughput_s;
  // "1,8,64": one row per K, each call timed under that load. Not given:
  // the default run (the closed loop, and a throughput run at 16).
  std::optional<std::string> inflight;
  // "1,10,100": one row per B, each message carrying B calls. Not given:
  // single calls.
  std::optional<std::string> batch;
  std::string pin = "auto";
  std::string codec;  // "" (each transport's own), or a list: "raw,json,protobuf"
  bool quick = false;
  bool baseline = false;
  bool normalize = false;  // floors beside every row; compare judges rows by them
  bool ci = false;         // the CI preset (kCiPreset)
  std::string peer_fault;  // tests only: --fault for the rows' C++ peer processes
  double call_timeout_s = 5;
  double ready_timeout_s = 30;
  std::string out_dir;
  std::string redis_url;                // needs a Redis row
  std::optional<std::string> shm_wait;  // default both; needs an shm row
  std::optional<std::string> file_wait; // default both; needs a file row
};

// --ci: a row of every tier with the C++ peer, each with its floor
// (--normalize), in enough repetitions for compare's U test to separate a
// 20% slowdown from this VM's modes (bench/compare.h), short enough that
// one run takes about 70 s here. Normalized because this VM has phases that
// move every row of a run at once: judged on raw p50s, 3 of 10 same-build
// pairs raised false alarms (scripts/check-compare), judged row/floor none.
// Options given with it win.
struct CiPreset {
  const char* transports = "ffi,shm-futex,unix,pipe,tcp,rest,grpc,redis,file-inotify";
  const char* peers = "cpp";
  int repetitions = 12;
  double duration_s = 0.1;
  double warmup_s = 0.05;
  double throughput_s = 0.1;
};
inline constexpr CiPreset kCiPreset{};

// Checks every value and makes the plan. Throws UsageError with a message
// that names the option and what it accepts. `usable_cpus` is how many CPUs
// this process may run on (a spinning wait needs two).
Plan MakePlan(const BenchOptions& options, int usable_cpus);
Plan MakePlan(const BenchOptions& options);  // with this process's CPUs

}  // namespace interop
