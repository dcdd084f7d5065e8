// The C++ side of the ffi tier: the workload behind a call the optimiser cannot
// see through (its own translation unit, noinline, no LTO in this build), so
// what the ffi/cpp row measures is a real call, not a folded constant.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/workload.h"

namespace interop {

int64_t NativeAdd(int64_t x, int64_t y);
ScoreResult NativeScore(std::span<const double> features, std::string_view model);

// A batch (--batch): arrays across the boundary in one call, the loop on
// the far side. `out` has room for every result.
void NativeAddBatch(std::span<const int64_t> xs, std::span<const int64_t> ys, std::span<int64_t> out);
// Item i is features[i*n, (i+1)*n) with model models[i].
void NativeScoreBatch(std::span<const double> features, std::size_t n, std::span<const std::string_view> models,
                      std::span<ScoreResult> out);

// The floor of the ffi tier (--baseline): the same calls, with no workload;
// each returns its first argument untouched.
int64_t NativeEcho(int64_t x, int64_t y);
const double* NativeEcho(std::span<const double> features, std::string_view model);
// A batch's floor: the arrays cross, nothing is computed; returns the first.
const void* NativeEchoBatch(const void* first, const void* second);

}  // namespace interop
