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

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

namespace {

// How many of the C(n+m, n) orderings of n and m values give each U (the
// number of (a, b) pairs with a > b), by the recurrence on the largest value:
// it belongs to a (adding m pairs) or to b. count[n][m] is a vector over U.
double ExactUpperTail(int n, int m, double u) {
  // table[i][j][k]: orderings of i a's and j b's with U = k.
  std::vector<std::vector<std::vector<double>>> table(n + 1, std::vector<std::vector<double>>(m + 1));
  for (int i = 0; i <= n; ++i) {
    for (int j = 0; j <= m; ++j) {
      std::vector<double>& t = table[i][j];
      t.assign(static_cast<std::size_t>(i * j) + 1, 0.0);
      if (i == 0 || j == 0) {
        t[0] = 1;
        continue;
      }
      const auto& with_a = table[i - 1][j];  // the largest is an a: it beats all j b's
      for (std::size_t k = 0; k < with_a.size(); ++k) t[k + static_cast<std::size_t>(j)] += with_a[k];
      const auto& with_b = table[i][j - 1];  // the largest is a b: it beats nothing
      for (std::size_t k = 0; k < with_b.size(); ++k) t[k] += with_b[k];
    }
  }
  const std::vector<double>& dist = table[n][m];
  double total = 0, tail = 0;
  for (std::size_t k = 0; k < dist.size(); ++k) {
    total += dist[k];
    if (static_cast<double>(k) >= u - 1e-9) tail += dist[k];
  }
  return tail / total;
}

}  // namespace

double MannWhitneyP(const std::vector<double>& a, const std::vector<double>& b) {
  const std::size_t n = a.size(), m = b.size();
  if (n == 0 || m == 0) return 1;
  // Midranks over the pooled values, and the tie groups' sizes.
  std::vector<std::pair<double, bool>> pooled;  // value, from a
  for (double x : a) pooled.emplace_back(x, true);
  for (double x : b) pooled.emplace_back(x, false);
  std::sort(pooled.begin(), pooled.end(), [](const auto& l, const auto& r) { return l.first < r.first; });
  const std::size_t total = n + m;
  double rank_sum_a = 0, tie_term = 0;
  bool ties = false;
  for (std::size_t i = 0; i < total;) {
    std::size_t j = i;
    while (j < total && pooled[j].first == pooled[i].first) ++j;
    const double t = static_cast<double>(j - i);
    const double midrank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (std::size_t k = i; k < j; ++k) rank_sum_a += pooled[k].second ? midrank : 0;
    if (t > 1) {
      ties = true;
      tie_term += t * t * t - t;
    }
    i = j;
  }
  const double nd = static_cast<double>(n), md = static_cast<double>(m);
  const double u_a = rank_sum_a - nd * (nd + 1) / 2;
  const double u = std::max(u_a, nd * md - u_a);  // the larger U: its upper tail, doubled
  if (!ties && std::min(n, m) <= 8) {  // scipy's default: exact for small samples only
    return std::min(1.0, 2 * ExactUpperTail(static_cast<int>(n), static_cast<int>(m), u));
  }
  const double nt = nd + md;
  const double variance = nd * md / 12 * ((nt + 1) - tie_term / (nt * (nt - 1)));
  if (variance <= 0) return 1;  // every value the same
  const double z = (u - nd * md / 2 - 0.5) / std::sqrt(variance);
  return std::min(1.0, std::erfc(z / std::sqrt(2.0)));
}

}  // namespace interop
