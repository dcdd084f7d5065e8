// A well-known tool beside a row, against the row's own peer: for the HTTP
// rows (--baseline), wrk with one connection (K for a row under --inflight=K),
// the row's body, pinned like the
// row, run after each of the row's repetitions, so row and wrk alternate pair
// by pair in one process pair. wrk times itself (it gives percentiles, no
// samples); the row's p50 as a multiple of wrk's, pair by pair, says how much
// of the row is the harness's own client.
#pragma once

#include <string>

#include "bench/measure.h"
#include "bench/row_result.h"

namespace interop {

inline constexpr const char* kWrk = "/usr/bin/wrk";

struct WrkTarget {
  std::string address;      // the peer's host:port
  std::string path;         // e.g. /add
  std::string body;         // what the row POSTs
  int cpu = -1;             // where the row's caller runs
  int seconds = 1;          // wrk -d, whole seconds
  int connections = 1;      // wrk -c: the row's calls in flight
  std::string script_path;  // its Lua script (written here)
  std::string log_path;     // its output
};

// One wrk -t1 -cK --latency run (K = connections). Throws std::runtime_error when wrk cannot
// run, fails, or saw an error or a non-2xx reply (its output's tail says why).
ReferenceRun RunWrk(const WrkTarget& target);

// Reads wrk --latency's output (exposed for tests). Throws std::runtime_error
// when it has no latency distribution, or reports socket errors or non-2xx replies.
ReferenceRun ParseWrkOutput(const std::string& output);

// The reference row of a row measured with wrk beside it: caller "wrk", role
// reference, wrk's own figures (the median run's, over the runs); and on the
// row, the median of its p50 / wrk's p50 over the pairs, with their range.
RowResult ReferenceRowOf(RowResult& row);

}  // namespace interop
