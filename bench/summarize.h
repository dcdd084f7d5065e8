// Every statistic of a row, made once from its raw measurement: latency
// percentiles over all samples, each repetition's figures, the p50's spread
// across the run, CPU per call of each party, and the row's status.
#pragma once

#include "bench/measure.h"
#include "bench/row_result.h"

namespace interop {

// Fills the measured fields of `row` (its identity, tier and placement are
// set already). A measurement that stopped early or saw wrong replies makes
// the row failed, with the reason.
void Summarize(const Measurement& m, RowResult& row);

// Nanobench's rule of thumb: a figure that moved by more than this during
// the run is flagged unstable.
inline constexpr double kUnstableSpread = 0.05;

}  // namespace interop
