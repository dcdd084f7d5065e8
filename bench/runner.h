// Runs one planned row or floor: out-of-process rows in the harness, around a
// RowRun (bench/row_run.h); in-process rows in a forked child, so a crash in
// an embedded interpreter fails the row, not the harness. Either way the calls
// are timed by MeasureCalls (bench/measure.h) and summarised once, here.
#pragma once

#include <string>
#include <vector>

#include "bench/pinning.h"
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

// Runs the row; never throws for a row-level failure (status failed, reason).
RowResult RunRow(const RowSpec& spec, const RunSettings& settings, const RunContext& context);

// "unix-python", "unix-python-floor": names the row's log file and its
// resources (socket, segment, handoff dir), unique within a run.
std::string RowTag(const RowSpec& spec);

// The command that starts a peer (peers/README.md), or a reason it cannot run here.
std::vector<std::string> PeerCommand(PeerKind peer, const RowSpec& spec, const std::string& address);
std::string PeerUnavailableReason(PeerKind peer, const TransportSpec& transport);

}  // namespace interop
