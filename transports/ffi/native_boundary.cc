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

__attribute__((noinline)) void NativeAddBatch(std::span<const int64_t> xs, std::span<const int64_t> ys,
                                              std::span<int64_t> out) {
  asm volatile("" ::: "memory");
  for (std::size_t i = 0; i < xs.size(); ++i) out[i] = Add(xs[i], ys[i]);
}

__attribute__((noinline)) void NativeScoreBatch(std::span<const double> features, std::size_t n,
                                                std::span<const std::string_view> models, std::span<ScoreResult> out) {
  asm volatile("" ::: "memory");
  for (std::size_t i = 0; i < models.size(); ++i) out[i] = Score(features.subspan(i * n, n));
}

__attribute__((noinline)) const void* NativeEchoBatch(const void* first, const void* /*second*/) {
  asm volatile("" ::: "memory");
  return first;
}

}  // namespace interop
