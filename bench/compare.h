// bench compare BASE.json NEW.json: which rows got slower beyond noise.
// Rows are matched by their identity (RowId::Key: transport, caller, peer,
// workload, features, codec, role; a floor is compared with its floor). A row
// regressed when its new p50 exceeds the base p50 by more than the threshold
// plus the noise both runs measured in that row (their p50 spread). A row
// that failed in NEW, or is missing from it, counts as a regression too; one
// NEW's run was interrupted in or before is "not measured", neither a
// regression nor a pass (and the rendering says how many).
#pragma once

#include <string>
#include <vector>

#include "bench/report.h"

namespace interop {

struct RowComparison {
  std::string row;        // the row's key, e.g. "unix/cpp>python/add/raw"
  double base_p50_ns = 0;
  double new_p50_ns = 0;
  double ratio = 0;       // new / base
  double allowed = 0;     // the ratio above which it counts as slower
  std::string verdict;    // "same", "faster", "slower", "failed", "missing", "new", "not measured"
};

std::vector<RowComparison> CompareReports(const Report& base, const Report& now, double threshold);
bool AnyRegression(const std::vector<RowComparison>& rows);
std::string RenderComparison(const std::vector<RowComparison>& rows, double threshold);

}  // namespace interop
