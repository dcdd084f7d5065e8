#include "transports/ffi/native_boundary.h"

namespace interop {

__attribute__((noinline)) int64_t NativeAdd(int64_t x, int64_t y) {
  // An empty asm with a memory clobber keeps the call from being treated as pure.
  asm volatile("" ::: "memory");
  return Add(x, y);
}

__attribute__((noinline)) ScoreResult NativeScore(std::span<const double> features,
                                                  std::string_view /*model*/) {
  asm volatile("" ::: "memory");
  return Score(features);
}

__attribute__((noinline)) int64_t NativeEcho(int64_t x, int64_t /*y*/) {
  asm volatile("" ::: "memory");
  return x;
}

__attribute__((noinline)) const double* NativeEcho(std::span<const double> features, std::string_view /*model*/) {
  asm volatile("" ::: "memory");
  return features.data();
}

}  // namespace interop
