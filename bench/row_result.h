// The plain record one row of the spectrum produces. The runner fills it from
// a measurement (bench/summarize.cc); reporters only format it; compare reads
// it back from JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "bench/placement.h"
#include "bench/row_id.h"
#include "bench/statistics.h"

namespace interop {

// kInterrupted: the run was stopped (Ctrl-C, SIGTERM) while this row ran;
// what it measured is not kept, and it is neither a pass nor a failure.
enum class RowStatus { kOk, kFailed, kInterrupted };
// "ok", "failed", "interrupted": as the JSON and CSV spell it.
const char* StatusName(RowStatus status);
RowStatus StatusFromName(const std::string& name);  // throws std::invalid_argument

// One repetition of the latency run (kept for gbench.json and compare).
struct RepetitionStats {
  uint64_t calls = 0;     // timed calls with a checked reply
  double mean_ns = 0;     // per call
  double p50_ns = 0;      // per call
  std::optional<double> caller_cpu_ns_per_call;
  std::optional<double> peer_cpu_ns_per_call;
  std::optional<double> broker_cpu_ns_per_call;
  double calls_per_s = 0;  // right replies over the repetition's timed wall time (0: not kept)
};

// CPU time per timed call of each party of the row; absent parts are null
// (in-process rows have no peer; only the Redis rows have a broker, and an
// external one, --redis=URL, is not counted).
struct CpuPerCall {
  std::optional<double> caller;  // every thread of the calling process (harness or ffi child)
  std::optional<double> peer;    // every thread of the peer process
  std::optional<double> broker;  // a third process every call passes through (the private redis-server)
};

// A reference tool's own figures for one run beside a row (wrk: its
// percentiles are all it gives, no samples).
struct ReferenceRun {
  double p50_ns = 0;
  double p90_ns = 0;
  double p99_ns = 0;
  double max_ns = 0;
  uint64_t requests = 0;
  double requests_per_s = 0;
};

// A row with a reference tool beside it (wrk, --baseline): its p50 over the
// tool's, pair by pair (the median pair, and the range of all of them).
// The row against a reference tool run beside it, repetition by repetition:
// on p50 in the closed loop; under load on calls/s, since there the tools
// time different things (wrk's latency leaves out the wait between a
// response and its connection's next request; ours is send to reply).
struct ReferenceRatio {
  std::string tool;
  std::string measure = "p50";  // "p50": ours / the tool's; "calls_per_s": likewise
  double median = 0;
  double low = 0;
  double high = 0;
  int pairs = 0;
};

struct RowResult {
  RowId id;
  std::string tier;
  RowStatus status = RowStatus::kOk;
  std::string reason;      // why it failed, or what cut it short
  std::string note;        // a remark that is not a failure (e.g. why a row has no floor)
  Placement placement;
  uint64_t calls = 0;              // timed calls with a checked reply
  uint64_t errors = 0;             // wrong, missing or error replies (any phase)
  uint64_t calls_per_sample = 1;   // in-process rows time batches of calls
  Summary latency_ns;              // per call, over every repetition
  // How far the p50 moved during the run: (high - low) / p50 of the
  // repetitions' p50s, or with one repetition of the medians of 5
  // consecutive slices of it. Unknown (and low = high = p50) when a single
  // repetition has too few samples to slice (< 50).
  std::optional<double> p50_spread;
  double p50_low_ns = 0;
  double p50_high_ns = 0;
  // How far the points behind the spread (the repetitions' p50s, or one
  // repetition's slice medians) stray from their median: their median
  // absolute deviation over their median. Unknown with fewer than 2 points.
  std::optional<double> p50_mad;
  // The stated rule (bench/summarize.h): the figure cannot be trusted.
  bool unstable = false;
  CpuPerCall cpu_ns_per_call;      // over the latency run
  // Bytes per message as they crossed the mechanism, each way, framing and
  // headers included (over the latency run; absent for an in-process call),
  // and how the transport counted them (TransportSpec::bytes_counted).
  std::optional<double> request_bytes;
  std::optional<double> reply_bytes;
  std::string bytes_counted;
  double calls_per_s = 0;          // throughput run (rows only)
  int throughput_inflight = 0;     // calls in flight behind calls_per_s (0: no throughput run)
  std::vector<RepetitionStats> repetitions;
  // A row: its p50 as a multiple of its floor's (set when both ran).
  std::optional<double> floor_ratio;
  // A row: its p50 against a reference tool's, when one ran beside it, and
  // that tool's runs, one after each repetition (the session makes the
  // reference's own row from them; they are not exported as such).
  std::optional<ReferenceRatio> reference;
  std::vector<ReferenceRun> reference_runs;
  std::string reference_error;
  // A floor whose p50 came out above its row's beyond the spread both
  // measured is re-measured, with its row, in fresh process pairs (the
  // p50 of each), so that its cause can be told from what was measured.
  std::vector<double> recheck_row_p50_ns;
  std::vector<double> recheck_floor_p50_ns;
  bool recheck_interrupted = false;
  // Why such a floor is above its row (empty: it is not).
  std::string above_row_cause;
};

inline bool Ok(const RowResult& r) { return r.status == RowStatus::kOk; }

// What one call costs in a batch row: its message's p50 over the B calls
// the message carried (the p50 itself for single calls).
inline double PerItemNs(const RowResult& r) {
  return r.id.batch > 0 ? r.latency_ns.p50 / r.id.batch : r.latency_ns.p50;
}

}  // namespace interop
