#include "bench/floors.h"

#include <algorithm>

#include "bench/report.h"
#include "bench/summarize.h"

namespace interop {
namespace {

std::string Range(const std::vector<double>& v) {
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return *lo == *hi ? FormatNs(*lo) : FormatNs(*lo) + "-" + FormatNs(*hi);
}

// Why a floor came out above its row, from every process pair both ran in:
// the first one and the re-measurements.
std::string Cause(const RowResult& row, const RowResult& floor) {
  if (floor.recheck_row_p50_ns.empty() || floor.recheck_floor_p50_ns.empty()) {
    return "its cause is not known: re-measuring it and its row in fresh process pairs " +
           std::string(floor.recheck_interrupted ? "was cut short by an interrupt" : "failed");
  }
  std::vector<double> rows = floor.recheck_row_p50_ns, floors = floor.recheck_floor_p50_ns;
  rows.push_back(row.latency_ns.p50);
  floors.push_back(floor.latency_ns.p50);
  const std::string figures = "in " + std::to_string(floors.size()) + " process pairs each the floor's p50 was " +
                              Range(floors) + " and the row's " + Range(rows);
  // The floor's best pair within what the row itself did across pairs (with
  // the width of one mode): the two overlap.
  const double floor_best = *std::min_element(floors.begin(), floors.end());
  const double row_worst = *std::max_element(rows.begin(), rows.end());
  if (floor_best <= row_worst * (1 + kPairModeWidth)) {
    return "process-pair modes: " + figures +
           ", so the two overlap; a pair of processes settles in a faster or slower mode of this machine's "
           "wake-ups and keeps it";
  }
  if (row.id.workload == "score") {
    return "the echo carries the whole request back, the row's reply is a few dozen bytes: " + figures;
  }
  return "the echo loop is slower than the row's call in every pair (a bug in this peer's echo): " + figures;
}

}  // namespace

bool AboveRowBeyondSpread(const RowResult& row, const RowResult& floor) {
  return Ok(row) && Ok(floor) && row.calls > 0 && floor.calls > 0 && floor.p50_low_ns > row.p50_high_ns;
}

void AnnotateFloors(std::vector<RowResult>& rows) {
  for (RowResult& floor : rows) {
    if (floor.id.role != RowRole::kFloor) continue;
    const RowId row_id = floor.id.WithRole(RowRole::kRow);
    auto row = std::find_if(rows.begin(), rows.end(), [&](const RowResult& r) { return r.id == row_id; });
    if (row == rows.end() || !Ok(*row) || !Ok(floor) || floor.latency_ns.p50 <= 0) continue;
    row->floor_ratio = row->latency_ns.p50 / floor.latency_ns.p50;
    if (AboveRowBeyondSpread(*row, floor)) floor.above_row_cause = Cause(*row, floor);
  }
}

}  // namespace interop
