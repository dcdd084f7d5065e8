// The reference each row is judged against: a minimal hand-written ping-pong
// over the same mechanism (write one frame, read it back, nothing else) with
// the peer in --echo mode (no decoding, no workload), timed the same way.
// With the C++ peer this is the floor of the mechanism; with Python or Ruby it
// is the cheapest loop that language can run over it.
#pragma once

#include "bench/runner.h"

namespace interop {

// True if the row (transport, peer) has a baseline.
bool HasBaseline(const TransportSpec& transport, PeerKind peer);

// Runs the baseline row for (transport, peer); never throws for row failures.
RowResult RunBaselineRow(const RowSpec& spec, const RunSettings& settings, const RunContext& context);

}  // namespace interop
