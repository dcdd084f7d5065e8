#include "common/workload.h"

#include <cmath>

namespace interop {

int64_t Add(int64_t x, int64_t y) {
  return static_cast<int64_t>(static_cast<uint64_t>(x) + static_cast<uint64_t>(y));
}

// Built with -ffp-contract=off (see CMakeLists.txt): a fused multiply-add would
// round differently from Python and Ruby, which multiply then add.
ScoreResult Score(std::span<const double> features) {
  double z = 0.0;
  for (std::size_t i = 0; i < features.size(); ++i) {
    const double w = static_cast<double>(static_cast<int64_t>(i % 7) - 3) * 0.25;
    z += features[i] * w;
  }
  const double score = 1.0 / (1.0 + std::exp(-z));
  return {score, score >= 0.5 ? std::string_view("fraud") : std::string_view("legit")};
}

std::vector<double> RampFeatures(std::size_t n) {
  std::vector<double> f(n);
  for (std::size_t i = 0; i < n; ++i) {
    f[i] = static_cast<double>((i * 37) % 101) / 50.0 - 1.0;
  }
  return f;
}

}  // namespace interop
