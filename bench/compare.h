// bench compare BASE.json NEW.json: which rows got slower beyond noise.
//
// Rows are matched by their identity (RowId::Key: transport, caller, peer,
// workload, features, codec, role). Each row's figure is its repetitions'
// p50s, or with normalizing (both runs made with --normalize, or compare
// --normalize) each repetition's p50 over its floor's p50 in the same pass,
// which cancels what a machine's mood does to both alike.
//
// With at least kMinRepetitionsForTest repetitions on both sides, a row is
// slower only when the Mann-Whitney U test over the two sets of repetitions
// says the change is real (p < kCompareAlpha) *and* the median moved by more
// than the threshold (the minimum effect size); faster likewise the other
// way. With fewer, there is no test to make: the row is slower when its p50
// exceeds the base's by more than the threshold plus the spread both runs
// measured in it. A row that failed in NEW, or is missing from it, counts as
// a regression too; one NEW's run was interrupted in or before is "not
// measured", neither a regression nor a pass.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bench/report.h"

namespace interop {

// Repetitions per side the U test needs: with 4 and 4 the smallest two-sided
// p the test can give is 2/70 = 0.029, below kCompareAlpha; with 3 and 3 it
// is 0.1, and no change could ever be called real.
inline constexpr int kMinRepetitionsForTest = 4;
inline constexpr double kCompareAlpha = 0.05;

struct CompareOptions {
  // The minimum effect size: a change smaller than this is "same". 15%, the
  // most the issue allows, because less raised false alarms here:
  // scripts/check-compare measured 2 in 9 same-build pairs of --ci runs at
  // 10% (a normalized shm-futex and file-inotify row moving 11-13%), none
  // at 15%.
  double threshold = 0.15;
  bool normalize = false;   // judge rows by their floor ratio (floors are then the yardstick, shown raw, not counted)
};

struct RowComparison {
  std::string row;        // the row's key, e.g. "unix/cpp>python/add/raw"
  double base_p50_ns = 0; // the row's p50 over all its repetitions
  double new_p50_ns = 0;
  std::string figure;     // what was compared: "p50" or "p50/floor"
  double ratio = 0;       // new / base of that figure (medians of the repetitions with the U test)
  double allowed = 0;     // the ratio above which it counts as slower
  std::optional<double> p_value;  // the U test's, when both sides had enough repetitions
  // "same", "faster", "slower", "failed", "missing", "new", "not measured";
  // a floor when normalizing: "reference", or "reference, raw slower" (not counted).
  std::string verdict;
};

// Both runs were made with --normalize (their settings say so).
bool BothNormalized(const Report& base, const Report& now);
std::vector<RowComparison> CompareReports(const Report& base, const Report& now, const CompareOptions& options);
bool AnyRegression(const std::vector<RowComparison>& rows);
// "text": a console table; "md": a Markdown table for a pull-request comment.
std::string RenderComparison(const std::vector<RowComparison>& rows, const CompareOptions& options,
                             const std::string& format = "text");

}  // namespace interop
