// Reporters: pure functions from row records (and the run's environment) to
// text. Measuring, aggregating and exporting stay three separate steps.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "bench/row_result.h"

namespace interop {

// 2: rows carry their identity (key, caller, role), placement, cpu_ns_per_call
// per party, floor ratios and flags, and per-repetition statistics; a run
// cut short says so at the top ("interrupted", "interrupted_by", "not_run")
// and its cut row has status "interrupted".
// 3: p50_mad, and unstable decided by it (bench/summarize.h); settings
// say normalize and peer_fault; the environment says how repetitions were
// interleaved.
// 5: the reference's ratio says what it compares ("measure": "p50", or
// "calls_per_s" for rows under load) in ratio_median/low/high (were
// p50_ratio_*); each repetition says its calls_per_s.
// 6: the identity's "batch" (--batch=B: calls per message, 0 for single
// calls), and per_item_ns / items_per_s for batch rows.
// 7: request_bytes, reply_bytes (per message, as they crossed) and
// bytes_counted (how); --codec and --features lists.
inline constexpr int kResultsSchemaVersion = 7;

// A whole run: the environment it ran in and its rows, in report order.
struct Report {
  nlohmann::ordered_json environment;
  std::vector<RowResult> rows;
  // Stopped by a signal before every planned row ran: which signal
  // ("SIGINT"), and the keys of the planned rows that never started.
  bool interrupted = false;
  std::string interrupted_by;
  std::vector<std::string> not_run;
};

nlohmann::ordered_json RowToJson(const RowResult& row);
// Serialises without ever throwing: text cut mid-character (a peer's error
// message, a label) gets U+FFFD instead of failing the whole report.
std::string DumpJson(const nlohmann::ordered_json& j, int indent = -1);
RowResult RowFromJson(const nlohmann::json& j);  // throws nlohmann::json::exception

// Display width of UTF-8 text (µ is two bytes, one column), and text padded
// to a display width, on the left (right-aligned) or on the right.
std::size_t DisplayWidth(const std::string& s);
std::string PadToWidth(const std::string& s, std::size_t width, bool right);

// A duration with a unit that fits: "812 ns", "10.5 µs", "3.20 ms", "1.23 s".
std::string FormatNs(double ns);
std::string FormatBytes(double bytes);  // "40 B", "16.4 kB", "2.1 MB"
// A rate: "95.3 k/s", "1.20 M/s".
std::string FormatRate(double per_s);

// "INTERRUPTED by SIGINT: 3 row(s) finished and kept, ..." ("" for a whole run).
std::string InterruptionLine(const Report& report);
std::string RenderConsole(const Report& report);
std::string RenderMarkdown(const Report& report);
std::string RenderCsv(const Report& report);
// results.json: schema version, environment, one record per row.
std::string RenderJson(const Report& report);
// Google Benchmark's JSON format (what Debian's compare.py reads): one
// iteration run per repetition of each row that ran, named by the row's key,
// with iterations = timed calls and real_time = the mean per call, the very
// numbers results.json holds; mean/median/stddev/cv aggregates when a row has
// several repetitions.
std::string RenderGbenchJson(const Report& report);
// Reads a results.json back (for compare). Throws std::runtime_error.
Report ParseResultsJson(const std::string& text);

}  // namespace interop
