// The plain record one row of the spectrum produces. The runner fills it;
// reporters only format it; compare reads it back from JSON.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bench/statistics.h"

namespace interop {

// One repetition as Google Benchmark ran it (kept for gbench.json).
struct RepetitionRun {
  uint64_t iterations = 0;      // timed iterations (each one call, or one batch)
  double real_time_s = 0;       // Google Benchmark's accumulated real time
  double cpu_time_s = 0;
  double p50_ns = 0;            // per-call p50 of this repetition
};

struct RowResult {
  std::string transport;
  std::string tier;
  std::string peer;
  std::string workload;   // "add" or "score"
  std::size_t features = 0;
  std::string codec;
  std::string pin;        // placement label: same, split, none, "-" (in-process)
  std::string status = "ok";  // "ok" or "failed"
  std::string reason;         // why it failed (or a note)
  uint64_t calls = 0;         // timed calls with a checked reply
  uint64_t errors = 0;        // wrong, missing or error replies (any phase)
  uint64_t batch = 1;         // calls per timed sample (in-process rows batch calls)
  Summary latency_ns;         // per-call latency over all repetitions
  double calls_per_s = 0;     // throughput run
  int inflight = 1;           // calls in flight in the throughput run
  double stability_spread = 0;  // relative spread of p50 across the run (MedianSpread)
  bool unstable = false;
  double harness_cpu_ns_per_call = 0;  // CPU the harness thread burned per call
  double peer_cpu_ns_per_call = 0;     // CPU the peer process burned per call (0: in-process)
  std::vector<RepetitionRun> repetitions;
  bool is_baseline = false;   // a hand-written reference loop, not a transport row
};

}  // namespace interop
