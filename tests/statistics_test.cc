#include <gtest/gtest.h>

#include "bench/statistics.h"

namespace interop {
namespace {

TEST(Statistics, NearestRankOnOneToHundred) {
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);  // unsorted on purpose
  const Summary s = Summarize(v);
  EXPECT_EQ(s.count, 100u);
  EXPECT_EQ(s.min, 1);
  EXPECT_EQ(s.p50, 50);
  EXPECT_EQ(s.p90, 90);
  EXPECT_EQ(s.p99, 99);
  EXPECT_EQ(s.p999, 100);
  EXPECT_EQ(s.max, 100);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
}

TEST(Statistics, PercentilesAreMeasuredSamples) {
  const Summary s = Summarize({10, 20, 30, 1000});
  EXPECT_EQ(s.p50, 20);   // rank ceil(0.5 * 4) = 2
  EXPECT_EQ(s.p90, 1000); // rank ceil(3.6) = 4
  EXPECT_EQ(s.p999, 1000);
  EXPECT_DOUBLE_EQ(s.mean, 265);
}

TEST(Statistics, P999NeedsAThousandSamplesToDifferFromMax) {
  std::vector<double> v(2000, 1.0);
  v[1999] = 99;
  v[1998] = 50;
  const Summary s = Summarize(v);
  EXPECT_EQ(s.p999, 50);  // rank ceil(1998) = 1998th sample
  EXPECT_EQ(s.max, 99);
}

TEST(Statistics, EmptyAndSingle) {
  EXPECT_EQ(Summarize({}).count, 0u);
  const Summary one = Summarize({7});
  EXPECT_EQ(one.p50, 7);
  EXPECT_EQ(one.p999, 7);
}

TEST(Statistics, SliceMediansShowADrift) {
  std::vector<double> drift(1000, 100.0);
  for (int i = 800; i < 1000; ++i) drift[i] = 150;  // last fifth is 50% slower
  EXPECT_EQ(SliceMedians(drift, 5), (std::vector<double>{100, 100, 100, 100, 150}));
  EXPECT_TRUE(SliceMedians({1, 2, 3}, 5).empty());  // too few samples to say
}

TEST(Statistics, MedianOfOddAndEvenCounts) {
  EXPECT_EQ(Median({}), 0);
  EXPECT_EQ(Median({3, 1, 2}), 2);
  EXPECT_EQ(Median({4, 1, 3, 2}), 2.5);
}

// Reference p-values from scipy 1.10 (Debian 12), two-sided, with the
// method scipy.stats.mannwhitneyu(a, b) picks by default (as compare.py
// calls it): "exact" when a side has at most 8 values and there are no ties,
// else "asymptotic" with the continuity correction.
TEST(Statistics, MannWhitneyExactMatchesScipy) {
  EXPECT_NEAR(MannWhitneyP({1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}), 0.007936507936507936, 1e-12);  // method="exact"
  EXPECT_NEAR(MannWhitneyP({1, 3, 5, 7, 9, 11}, {2, 4, 6, 8, 10, 12, 14}), 0.4452214452214452, 1e-12);
  // The test is symmetric in its two sides.
  EXPECT_NEAR(MannWhitneyP({6, 7, 8, 9, 10}, {1, 2, 3, 4, 5}), 0.007936507936507936, 1e-12);
}

TEST(Statistics, MannWhitneyApproximationWithTiesAndLargeSidesMatchesScipy) {
  // Ties: method="asymptotic" with the tie correction and use_continuity=True.
  EXPECT_NEAR(MannWhitneyP({1, 2, 2, 3, 4}, {2, 3, 3, 5, 6, 7}), 0.11390314458853068, 1e-9);
  std::vector<double> evens, odds;
  for (int i = 0; i < 50; i += 2) evens.push_back(i);
  for (int i = 1; i < 60; i += 2) odds.push_back(i);
  EXPECT_NEAR(MannWhitneyP(evens, odds), 0.20792927248164417, 1e-9);  // 25 and 30 values: asymptotic
  // 9 and 9 without ties: past scipy's exact limit (8), asymptotic too.
  EXPECT_NEAR(MannWhitneyP({1, 2, 3, 4, 5, 6, 7, 8, 9}, {10, 11, 12, 13, 14, 15, 16, 17, 18}),
              0.00041229480206169127, 1e-12);
}

TEST(Statistics, MannWhitneyWithoutEvidenceIsOne) {
  EXPECT_EQ(MannWhitneyP({}, {1, 2}), 1);
  EXPECT_EQ(MannWhitneyP({5, 5, 5}, {5, 5}), 1);
}

}  // namespace
}  // namespace interop
