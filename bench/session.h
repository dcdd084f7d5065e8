// One bench run from start to end: removes what killed runs left behind, makes
// the run's private dir and the peers' log dir, calibrates the pinning,
// records the environment, starts services on demand, then measures every
// planned row, each repetition in a fresh process pair and the repetitions of
// all rows interleaved in passes (progress on a terminal, bench/progress.h),
// and stops everything it started. Stops early on Ctrl-C, keeping the rows
// and repetitions it has.
#pragma once

#include <string>

#include "bench/plan.h"
#include "bench/report.h"

namespace interop {

Report RunPlan(const Plan& plan, const std::string& command_line);

}  // namespace interop
