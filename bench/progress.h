// Live progress of a run on a terminal: rows done / total, the row being
// measured, time elapsed and an estimate of the time left, redrawn in place
// on stderr; and each row's line as soon as it finishes, so the table builds
// up as the run goes. Silent when stderr is not a terminal or CI is set
// (logs and CI get the final table only).
#pragma once

#include <chrono>
#include <string>

#include "bench/row_result.h"

namespace interop {

class Progress {
 public:
  Progress();
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  bool active() const { return active_; }
  // The passes begin. rows: how many will finish; steps: passes over rows,
  // the unit of the estimate.
  void Start(int rows, int steps);
  // A step (one pass over one row) starts.
  void Begin(int pass, int passes, const std::string& row);
  void StepDone();
  // Steps that will not run after all (a row that failed drops out of the
  // later passes).
  void Skip(int steps);
  // A row finished: its line, above the status line (terminal only).
  void RowFinished(const RowResult& row);
  // A remark the user should see either way (on stderr; above the status line).
  void Note(const std::string& text);
  // The passes are over: the status line goes; notes still print.
  void Finish();

 private:
  void Clear();
  void Draw();

  bool active_;
  int rows_ = 0;
  int rows_done_ = 0;
  int total_ = 0;
  int done_ = 0;
  std::string current_;
  std::chrono::steady_clock::time_point start_;
  bool header_printed_ = false;
};

// A finished row in one fixed-width line: "unix/cpp>python/add/raw  p50 5.12 µs  p99 9.80 µs  91.2 k/s".
std::string RowLine(const RowResult& row);

}  // namespace interop
