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

// The floor of the ffi tier (--baseline): the same calls, with no workload;
// each returns its first argument untouched.
int64_t NativeEcho(int64_t x, int64_t y);
const double* NativeEcho(std::span<const double> features, std::string_view model);

}  // namespace interop
