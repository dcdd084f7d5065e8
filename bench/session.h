// One bench run from start to end: removes what killed runs left behind, makes
// the run's private dir and the peers' log dir, calibrates the pinning,
// records the environment, starts services on demand, then measures every
// planned row in order (a line per row on stderr as it starts) and stops
// everything it started. Stops early on Ctrl-C, keeping the rows it has.
#pragma once

#include <string>

#include "bench/plan.h"
#include "bench/report.h"

namespace interop {

Report RunPlan(const Plan& plan, const std::string& command_line);

}  // namespace interop
