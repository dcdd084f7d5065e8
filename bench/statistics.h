// Exact order statistics of the kept per-call samples (no histograms, no
// interpolation): a percentile is a sample that was actually measured.
#pragma once

#include <cstddef>
#include <vector>

namespace interop {

struct Summary {
  std::size_t count = 0;
  double mean = 0;
  double min = 0;
  double p50 = 0;
  double p90 = 0;
  double p99 = 0;
  double p999 = 0;
  double max = 0;
};

// Nearest-rank percentile of sorted samples: the smallest sample with at least
// p% of the samples at or below it. p in (0, 100]. Empty input gives 0.
double NearestRank(const std::vector<double>& sorted, double p);

// Sorts a copy of the samples and summarises them.
Summary Summarize(std::vector<double> samples);

// The medians of `parts` consecutive, equal slices of the samples (in the
// order taken): how the figure moved during the run. Empty when there are
// fewer than 10 samples per slice.
std::vector<double> SliceMedians(const std::vector<double>& samples, std::size_t parts);

// The median: the middle value, or the mean of the two middle ones. Empty
// input gives 0.
double Median(std::vector<double> values);

// Two-sided p-value of the Mann-Whitney U test (Wilcoxon rank-sum) that `a`
// and `b` come from one distribution, as scipy.stats.mannwhitneyu(a, b)
// computes it by default (and so Google Benchmark's compare.py): exact (the
// U distribution counted) when a side has at most 8 values and there are no
// ties; otherwise the normal approximation with the tie correction and a
// continuity correction. Needs a value on each side (1 otherwise: no
// evidence).
double MannWhitneyP(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace interop
