#include "bench/export.h"

#include <cstdio>
#include <fstream>
#include <iostream>

#include "bench/process_guard.h"

namespace interop {
namespace {

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

}  // namespace

int ExportReport(const Report& report, const std::string& out_dir) {
  std::cout << RenderConsole(report) << std::flush;
  if (!out_dir.empty()) {
    const bool written = WriteFile(out_dir + "/results.json", RenderJson(report)) &&
                         WriteFile(out_dir + "/results.md", RenderMarkdown(report)) &&
                         WriteFile(out_dir + "/results.csv", RenderCsv(report)) &&
                         WriteFile(out_dir + "/gbench.json", RenderGbenchJson(report));
    if (!written) {
      std::fprintf(stderr, "bench: could not write results to %s\n", out_dir.c_str());
      return 1;
    }
    std::printf("\nwrote %s/results.json (+ .md, .csv, gbench.json, logs/)\n", out_dir.c_str());
  }
  if (report.interrupted) {
    std::fprintf(stderr, "bench: %s\n", InterruptionLine(report).c_str());
    return InterruptExitCode();
  }
  int failed = 0;
  for (const auto& r : report.rows) failed += r.status == RowStatus::kFailed;
  if (failed) std::fprintf(stderr, "bench: %d row(s) failed\n", failed);
  return failed ? 1 : 0;
}

}  // namespace interop
