#include "bench/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "bench/report.h"

namespace interop {
namespace {

std::string Clock(double seconds) {
  const long s = static_cast<long>(seconds + 0.5);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  return buf;
}

}  // namespace

std::string RowLine(const RowResult& r) {
  std::string line = PadToWidth(r.id.Key(), 38, false);
  if (r.status == RowStatus::kFailed) return line + "  FAILED: " + r.reason;
  if (r.status == RowStatus::kInterrupted) return line + "  interrupted";
  line += "  p50 " + PadToWidth(FormatNs(r.latency_ns.p50), 9, false);
  line += "  p99 " + PadToWidth(FormatNs(r.latency_ns.p99), 9, false);
  if (r.calls_per_s > 0) line += "  " + PadToWidth(FormatRate(r.calls_per_s), 10, false);
  if (r.unstable) line += "  unstable";
  return line;
}

Progress::Progress()
    : active_(::isatty(STDERR_FILENO) == 1 && std::getenv("CI") == nullptr), start_(std::chrono::steady_clock::now()) {}

void Progress::Start(int rows, int steps) {
  rows_ = rows;
  total_ = steps;
  start_ = std::chrono::steady_clock::now();
}

Progress::~Progress() { Clear(); }

void Progress::Begin(int pass, int passes, const std::string& row) {
  current_ = "pass " + std::to_string(pass + 1) + "/" + std::to_string(passes) + "  " + row;
  Draw();
}

void Progress::Skip(int steps) {
  total_ -= steps;
  Draw();
}

void Progress::StepDone() {
  ++done_;
  Draw();
}

void Progress::RowFinished(const RowResult& row) {
  ++rows_done_;
  if (!active_) return;
  Clear();
  if (!header_printed_) {
    std::fprintf(stderr, "rows as they finish (the full table follows at the end):\n");
    header_printed_ = true;
  }
  std::fprintf(stderr, "  %s\n", RowLine(row).c_str());
  Draw();
}

void Progress::Note(const std::string& text) {
  Clear();
  std::fprintf(stderr, "%s\n", text.c_str());
  Draw();
}

void Progress::Finish() {
  Clear();
  active_ = false;
}

void Progress::Clear() {
  if (active_) std::fputs("\r\033[K", stderr);
}

void Progress::Draw() {
  if (!active_) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string left = "?";
  if (done_ > 0) {
    left = "~";  // appended, not "~" + string: that trips GCC 12's -Wrestrict false positive (PR 105651)
    left += Clock(elapsed / done_ * (total_ - done_));
  }
  char line[512];
  std::snprintf(line, sizeof line, "rows %d/%d done  %s  elapsed %s  left %s", rows_done_, rows_, current_.c_str(),
                Clock(elapsed).c_str(), left.c_str());
  // One terminal line at most: a wrapped status line would leave its first
  // part behind at every redraw (\r only returns to the last line's start).
  std::string shown = line;
  winsize ws{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && shown.size() >= ws.ws_col) {
    shown.resize(ws.ws_col - 1);  // the status line is ASCII: bytes are columns
  }
  std::fprintf(stderr, "\r\033[K%s", shown.c_str());
  std::fflush(stderr);
}

}  // namespace interop
