// The last step of a run: the console table on stdout, and with --out the
// files (results.json, .md, .csv, gbench.json). Returns bench's exit status.
#pragma once

#include <string>

#include "bench/report.h"

namespace interop {

// 0: every row ok; 1: a row failed, or a file could not be written;
// 128+N: interrupted by signal N.
int ExportReport(const Report& report, const std::string& out_dir);

}  // namespace interop
