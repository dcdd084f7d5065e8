// Each row against its floor (--baseline): the row's p50 as a multiple of its
// floor's, and a flag on every floor whose p50 is above its row's beyond the
// spread both measured, with the cause the measurements point to. A pure
// function of the results, run after the rows (measure, aggregate, export).
#pragma once

#include <vector>

#include "bench/row_result.h"

namespace interop {

// A floor above its row beyond the spread both measured: the floor's low
// end of the p50 (its lowest repetition p50, or slice median) is above the
// row's high end (both ran, both ok).
bool AboveRowBeyondSpread(const RowResult& row, const RowResult& floor);

// How many fresh process pairs of each the session re-measures such a floor
// and its row in, alternating, before the cause is told.
inline constexpr int kRecheckPairs = 3;

// How far apart two process pairs in the same mode of this machine's
// wake-ups can land: a mode is itself about 10% wide here (shm-spin/cpp's
// slow mode came out at 550-610 ns across pairs, the fast one at 110-190).
// A floor whose best pair is within this of the row's worst overlaps it.
inline constexpr double kPairModeWidth = 0.10;

// Matches every floor with its row by identity; sets the row's floor_ratio
// and, for a floor above its row beyond the spread, the floor's
// above_row_cause (never empty then), from its re-measurements.
void AnnotateFloors(std::vector<RowResult>& rows);

}  // namespace interop
