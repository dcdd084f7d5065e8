#include "bench/statistics.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace interop {

double NearestRank(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double rank = std::ceil(p / 100.0 * static_cast<double>(sorted.size()));
  const std::size_t index = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
  return sorted[std::min(index, sorted.size() - 1)];
}

Summary Summarize(std::vector<double> samples) {
  Summary s;
  s.count = samples.size();
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(s.count);
  s.min = samples.front();
  s.p50 = NearestRank(samples, 50);
  s.p90 = NearestRank(samples, 90);
  s.p99 = NearestRank(samples, 99);
  s.p999 = NearestRank(samples, 99.9);
  s.max = samples.back();
  return s;
}

std::vector<double> SliceMedians(const std::vector<double>& samples, std::size_t parts) {
  std::vector<double> medians;
  if (parts < 1 || samples.size() < parts * 10) return medians;
  const std::size_t per = samples.size() / parts;
  for (std::size_t k = 0; k < parts; ++k) {
    std::vector<double> slice(samples.begin() + k * per, samples.begin() + (k + 1) * per);
    std::sort(slice.begin(), slice.end());
    medians.push_back(NearestRank(slice, 50));
  }
  return medians;
}

}  // namespace interop
