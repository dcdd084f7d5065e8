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

struct BenchOptions {
  std::string transports = "all";
  std::string peers = "all";
  std::string workload = "add";
  std::size_t features = 256;
  uint64_t calls = 0;
  std::optional<double> duration_s;
  std::optional<double> warmup_s;
  std::optional<int> repetitions;
  std::optional<double> throughput_s;
  int inflight = 16;
  std::string pin = "auto";
  std::string codec;
  bool quick = false;
  bool baseline = false;
  double call_timeout_s = 5;
  double ready_timeout_s = 30;
  std::string out_dir;
  std::string redis_url;
  std::string shm_wait = "both";
  std::string file_wait = "both";
};

// Checks every value and makes the plan. Throws UsageError with a message
// that names the option and what it accepts.
Plan MakePlan(const BenchOptions& options);

}  // namespace interop
