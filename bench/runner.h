// Runs one planned row or floor: out-of-process rows in the harness, around a
// RowRun (bench/row_run.h); in-process rows in a forked child, so a crash in
// an embedded interpreter fails the row, not the harness. Either way the calls
// are timed by MeasureCalls (bench/measure.h) and summarised once, here.
#pragma once

#include <string>
#include <vector>

#include "bench/pinning.h"
#include "bench/measure.h"
#include "bench/plan.h"
#include "bench/row_result.h"
#include "bench/settings.h"

namespace interop {

class Services;

struct RunContext {
  std::string run_dir;  // private 0700 dir for sockets
  std::string log_dir;  // peers' stderr logs
  const Pinning* pinning = nullptr;
  std::string run_id;   // unique per bench run: key prefixes on shared services
  Services* services = nullptr;  // Redis, for transports that need it
};

// Where a row's processes run: the pinning policy's placement for its wait
// style, with the private redis-server placed as its broker (an external one
// is not ours to place).
Placement PlacementOf(const TransportSpec& transport, const RunContext& context);

// Why the row cannot run on this machine at all (a peer not installed, one
// core for a spinning wait), or "" when it can.
std::string CannotRunReason(const RowSpec& spec, const RunContext& context);

// One pass over a row: its processes started fresh, the settings' warmup and
// repetitions measured, everything taken down. Never throws; whatever went
// wrong is the measurement's failure.
Measurement MeasurePass(const RowSpec& spec, const RunSettings& settings, const RunContext& context);

// A bench run measures each repetition of a row in a pass of its own, in a
// fresh process pair (this VM's round trip is bimodal per pair: repetitions
// of one pair would all sit in one mode), with the passes of all rows
// interleaved (bench/session.cc). Pass `pass` (0-based) of `s.repetitions`:
// one repetition, the throughput run in the last pass only, and an
// in-process row's batch as its first pass found it (`so_far`).
RunSettings PassSettings(const RunSettings& s, int pass, const Measurement& so_far);
// Adds one pass to the row's measurement (repetitions in order; the
// throughput run's figures from the pass that made one).
void AppendPass(Measurement& row, Measurement pass);

// The row's result from what it measured: statistics, status (failed with
// the reason), notes. `passes` of `settings.repetitions` ran; fewer, and not
// failed, means the run was interrupted between them, and the note says so.
RowResult ResultOf(const RowSpec& spec, const RunSettings& settings, const RunContext& context,
                   const Measurement& measured, int passes);

// Runs the row in one pass, all its repetitions in one process pair (tests,
// and the re-measuring of a floor); never throws for a row-level failure.
RowResult RunRow(const RowSpec& spec, const RunSettings& settings, const RunContext& context);

// "unix-python", "unix-python-floor", "unix-python-k8": names the row's log file and its
// resources (socket, segment, handoff dir), unique within a run.
std::string RowTag(const RowSpec& spec);

// The command that starts a peer (peers/README.md), or a reason it cannot run here.
// `inflight`: the most calls the row will keep in flight (its K, or its
// throughput run's), which the peer is told above 1.
std::vector<std::string> PeerCommand(PeerKind peer, const RowSpec& spec, const std::string& address,
                                     int inflight = 1);
// That most: a row's K under --inflight, else its throughput run's, else 1.
int MostInFlight(const RowSpec& spec, const RunSettings& settings);
std::string PeerUnavailableReason(PeerKind peer, const TransportSpec& transport);

}  // namespace interop
