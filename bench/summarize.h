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

// A row is `unstable` when its p50 cannot be trusted: the points behind it
// (the repetitions' p50s, or with one repetition the medians of 5 slices of
// it) disagree, their median absolute deviation exceeding this share of
// their median. A minority of repetitions in another mode (one process pair
// in three in the slow mode of this VM's round trip) does not trip it, since
// the median stands; repetitions split between two modes do, since then the
// p50 is a coin toss between them. The spread (high - low) is in the JSON
// either way.
inline constexpr double kUnstableMad = 0.10;

}  // namespace interop
