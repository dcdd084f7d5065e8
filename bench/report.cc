#include "bench/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace interop {

using nlohmann::ordered_json;

namespace {

ordered_json Nullable(const std::optional<double>& v) { return v ? ordered_json(*v) : ordered_json(); }
std::optional<double> Nullable(const nlohmann::json& j) {
  return j.is_null() ? std::nullopt : std::optional<double>(j.get<double>());
}
ordered_json Cpu(int cpu) { return cpu >= 0 ? ordered_json(cpu) : ordered_json(); }
int Cpu(const nlohmann::json& j) { return j.is_null() ? -1 : j.get<int>(); }

}  // namespace

const char* StatusName(RowStatus status) {
  switch (status) {
    case RowStatus::kOk: return "ok";
    case RowStatus::kFailed: return "failed";
    case RowStatus::kInterrupted: return "interrupted";
  }
  return "failed";
}

RowStatus StatusFromName(const std::string& name) {
  for (RowStatus s : {RowStatus::kOk, RowStatus::kFailed, RowStatus::kInterrupted}) {
    if (name == StatusName(s)) return s;
  }
  throw std::invalid_argument("unknown row status '" + name + "'");
}

ordered_json RowToJson(const RowResult& r) {
  ordered_json j;
  WriteRowId(r.id, j);
  j["tier"] = r.tier;
  j["status"] = StatusName(r.status);
  j["reason"] = r.reason;
  j["note"] = r.note;
  j["pin"] = r.placement.label;
  j["placement"] = {{"caller", Cpu(r.placement.caller_cpu)},
                    {"peer", Cpu(r.placement.peer_cpu)},
                    {"broker", Cpu(r.placement.broker_cpu)},
                    {"watchdog", Cpu(r.placement.watchdog_cpu)}};
  j["calls"] = r.calls;
  j["errors"] = r.errors;
  j["calls_per_sample"] = r.calls_per_sample;
  j["p50_ns"] = r.latency_ns.p50;
  j["p90_ns"] = r.latency_ns.p90;
  j["p99_ns"] = r.latency_ns.p99;
  j["p999_ns"] = r.latency_ns.p999;
  j["max_ns"] = r.latency_ns.max;
  j["min_ns"] = r.latency_ns.min;
  j["mean_ns"] = r.latency_ns.mean;
  j["samples"] = r.latency_ns.count;
  j["p50_spread"] = Nullable(r.p50_spread);
  j["p50_low_ns"] = r.p50_low_ns;
  j["p50_high_ns"] = r.p50_high_ns;
  j["p50_mad"] = Nullable(r.p50_mad);
  j["unstable"] = r.unstable;
  j["cpu_ns_per_call"] = {{"caller", Nullable(r.cpu_ns_per_call.caller)},
                          {"peer", Nullable(r.cpu_ns_per_call.peer)},
                          {"broker", Nullable(r.cpu_ns_per_call.broker)}};
  j["request_bytes"] = Nullable(r.request_bytes);
  j["reply_bytes"] = Nullable(r.reply_bytes);
  j["bytes_counted"] = r.request_bytes ? ordered_json(r.bytes_counted) : ordered_json();
  j["calls_per_s"] = r.calls_per_s;
  // A batch row's figures per call: its message p50 and rate spread over
  // (or multiplied by) the B calls each message carried.
  j["per_item_ns"] = r.id.batch > 0 && r.calls > 0 ? ordered_json(PerItemNs(r)) : ordered_json();
  j["items_per_s"] = r.id.batch > 0 ? ordered_json(r.calls_per_s * r.id.batch) : ordered_json();
  j["throughput_inflight"] = r.throughput_inflight;
  j["floor_ratio"] = Nullable(r.floor_ratio);
  j["reference"] = r.reference ? ordered_json{{"tool", r.reference->tool},
                                              {"measure", r.reference->measure},
                                              {"ratio_median", r.reference->median},
                                              {"ratio_low", r.reference->low},
                                              {"ratio_high", r.reference->high},
                                              {"pairs", r.reference->pairs}}
                               : ordered_json();
  j["recheck"] = {{"row_p50_ns", r.recheck_row_p50_ns}, {"floor_p50_ns", r.recheck_floor_p50_ns},
                  {"interrupted", r.recheck_interrupted}};
  j["above_row_cause"] = r.above_row_cause.empty() ? ordered_json() : ordered_json(r.above_row_cause);
  j["repetitions"] = ordered_json::array();
  for (const auto& rep : r.repetitions) {
    j["repetitions"].push_back({{"calls", rep.calls},
                                {"mean_ns", rep.mean_ns},
                                {"p50_ns", rep.p50_ns},
                                {"caller_cpu_ns_per_call", Nullable(rep.caller_cpu_ns_per_call)},
                                {"peer_cpu_ns_per_call", Nullable(rep.peer_cpu_ns_per_call)},
                                {"broker_cpu_ns_per_call", Nullable(rep.broker_cpu_ns_per_call)},
                                {"calls_per_s", rep.calls_per_s}});
  }
  return j;
}

std::string DumpJson(const ordered_json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

RowResult RowFromJson(const nlohmann::json& j) {
  RowResult r;
  r.id = ReadRowId(j);
  r.tier = j.at("tier");
  r.status = StatusFromName(j.at("status"));
  r.reason = j.at("reason");
  r.note = j.at("note");
  r.placement.label = j.at("pin");
  const auto& place = j.at("placement");
  r.placement.caller_cpu = Cpu(place.at("caller"));
  r.placement.peer_cpu = Cpu(place.at("peer"));
  r.placement.broker_cpu = Cpu(place.at("broker"));
  r.placement.watchdog_cpu = Cpu(place.at("watchdog"));
  r.calls = j.at("calls");
  r.errors = j.at("errors");
  r.calls_per_sample = j.at("calls_per_sample");
  r.latency_ns.p50 = j.at("p50_ns");
  r.latency_ns.p90 = j.at("p90_ns");
  r.latency_ns.p99 = j.at("p99_ns");
  r.latency_ns.p999 = j.at("p999_ns");
  r.latency_ns.max = j.at("max_ns");
  r.latency_ns.min = j.at("min_ns");
  r.latency_ns.mean = j.at("mean_ns");
  r.latency_ns.count = j.at("samples");
  r.p50_spread = Nullable(j.at("p50_spread"));
  r.p50_low_ns = j.at("p50_low_ns");
  r.p50_high_ns = j.at("p50_high_ns");
  if (j.contains("p50_mad")) r.p50_mad = Nullable(j.at("p50_mad"));  // since schema 3
  r.unstable = j.at("unstable");
  const auto& cpu = j.at("cpu_ns_per_call");
  r.cpu_ns_per_call = {Nullable(cpu.at("caller")), Nullable(cpu.at("peer")), Nullable(cpu.at("broker"))};
  r.calls_per_s = j.at("calls_per_s");
  if (j.contains("request_bytes")) {  // since schema 7
    r.request_bytes = Nullable(j.at("request_bytes"));
    r.reply_bytes = Nullable(j.at("reply_bytes"));
    if (!j.at("bytes_counted").is_null()) r.bytes_counted = j.at("bytes_counted");
  }
  // Named "inflight" before schema 4, which gave that name to the identity (bench/row_id.cc).
  r.throughput_inflight = j.contains("throughput_inflight") ? j.at("throughput_inflight") : j.at("inflight");
  r.floor_ratio = Nullable(j.at("floor_ratio"));
  if (const auto& ref = j.at("reference"); !ref.is_null()) {
    // Before schema 5 the only measure was p50, and its keys said so.
    const bool old = !ref.contains("measure");
    r.reference = ReferenceRatio{ref.at("tool"), old ? "p50" : ref.at("measure").get<std::string>(),
                                 ref.at(old ? "p50_ratio_median" : "ratio_median"),
                                 ref.at(old ? "p50_ratio_low" : "ratio_low"),
                                 ref.at(old ? "p50_ratio_high" : "ratio_high"), ref.at("pairs")};
  }
  r.recheck_row_p50_ns = j.at("recheck").at("row_p50_ns").get<std::vector<double>>();
  r.recheck_floor_p50_ns = j.at("recheck").at("floor_p50_ns").get<std::vector<double>>();
  r.recheck_interrupted = j.at("recheck").at("interrupted");
  if (const auto& cause = j.at("above_row_cause"); !cause.is_null()) r.above_row_cause = cause;
  for (const auto& rep : j.at("repetitions")) {
    r.repetitions.push_back({rep.at("calls"), rep.at("mean_ns"), rep.at("p50_ns"),
                             Nullable(rep.at("caller_cpu_ns_per_call")), Nullable(rep.at("peer_cpu_ns_per_call")),
                             Nullable(rep.at("broker_cpu_ns_per_call")), rep.value("calls_per_s", 0.0)});
  }
  return r;
}

std::size_t DisplayWidth(const std::string& s) {
  std::size_t w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80;
  return w;
}

std::string PadToWidth(const std::string& s, std::size_t width, bool right) {
  const std::size_t w = DisplayWidth(s);
  const std::string fill(width > w ? width - w : 0, ' ');
  return right ? fill + s : s + fill;
}

std::string FormatNs(double ns) {
  char buf[32];
  if (ns < 1000) std::snprintf(buf, sizeof buf, ns < 10 ? "%.2f ns" : (ns < 100 ? "%.1f ns" : "%.0f ns"), ns);
  else if (ns < 1e6) std::snprintf(buf, sizeof buf, ns < 1e4 ? "%.2f µs" : (ns < 1e5 ? "%.1f µs" : "%.0f µs"), ns / 1e3);
  else if (ns < 1e9) std::snprintf(buf, sizeof buf, ns < 1e7 ? "%.2f ms" : (ns < 1e8 ? "%.1f ms" : "%.0f ms"), ns / 1e6);
  else std::snprintf(buf, sizeof buf, "%.2f s", ns / 1e9);
  return buf;
}

std::string FormatBytes(double bytes) {
  char buf[32];
  if (bytes < 1e4) std::snprintf(buf, sizeof buf, "%.0f B", bytes);
  else if (bytes < 1e7) std::snprintf(buf, sizeof buf, bytes < 1e5 ? "%.1f kB" : "%.0f kB", bytes / 1e3);
  else std::snprintf(buf, sizeof buf, "%.1f MB", bytes / 1e6);
  return buf;
}

std::string FormatRate(double per_s) {
  char buf[32];
  if (per_s >= 1e6) std::snprintf(buf, sizeof buf, "%.2f M/s", per_s / 1e6);
  else if (per_s >= 1e3) std::snprintf(buf, sizeof buf, "%.1f k/s", per_s / 1e3);
  else std::snprintf(buf, sizeof buf, "%.1f /s", per_s);
  return buf;
}

namespace {

// The columns every table format shares, so they cannot drift apart.
// Which reports show a column: every one, or only those where some row
// turned the knob it is about (so the default run has no column that is
// always 1).
enum class ShownIn { kAll, kUnderLoad, kBatched, kCounted };

struct Column {
  const char* title;
  bool right_aligned;
  std::string (*cell)(const RowResult&);
  ShownIn shown = ShownIn::kAll;
};

// A figure that was not measured (no calls, or a percentile a reference tool
// does not give) shows as "-", never as 0.
std::string Timed(const RowResult& r, double ns) { return r.calls > 0 && ns > 0 ? FormatNs(ns) : "-"; }

std::string Note(const RowResult& r) {
  std::vector<std::string> parts;
  if (r.status == RowStatus::kFailed) parts.push_back("FAILED: " + r.reason);
  if (r.status == RowStatus::kInterrupted) parts.push_back("INTERRUPTED: " + r.reason);
  if (!r.above_row_cause.empty()) parts.push_back("ABOVE ITS ROW: " + r.above_row_cause);
  if (Ok(r) && r.unstable) {
    parts.push_back(r.p50_mad ? "unstable (its repetitions' p50s stray " +
                                    std::to_string(static_cast<int>(*r.p50_mad * 100 + 0.5)) + "% from their median)"
                              : std::string("unstable"));  // a schema 2 file: decided by its p50 spread
  }
  if (Ok(r) && r.calls > 0 && !r.p50_spread) parts.push_back("too few samples to judge its stability");
  if (Ok(r) && r.calls_per_sample > 1) parts.push_back("timed in batches of " + std::to_string(r.calls_per_sample));
  if (r.reference) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "%s %.2fx %s's (median of %d pairs, %.2fx-%.2fx)",
                  r.reference->measure == "calls_per_s" ? "calls/s" : "p50", r.reference->median,
                  r.reference->tool.c_str(), r.reference->pairs, r.reference->low, r.reference->high);
    parts.push_back(buf);
  }
  if (!r.note.empty()) parts.push_back(r.note);
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "; ") + p;
  return out;
}

const std::vector<Column>& Columns() {
  static const std::vector<Column> cols = {
      {"tier", false, [](const RowResult& r) { return r.tier; }},
      {"transport", false, [](const RowResult& r) { return r.id.transport; }},
      {"caller", false, [](const RowResult& r) { return r.id.caller; }},
      {"peer", false, [](const RowResult& r) { return r.id.peer; }},
      {"workload", false, [](const RowResult& r) { return r.id.WorkloadLabel(); }},
      {"codec", false, [](const RowResult& r) { return r.id.codec; }},
      // Calls in flight while timed: K under load, 1 in the default run's closed loop.
      {"K", true, [](const RowResult& r) { return std::to_string(std::max(1, r.id.inflight)); }, ShownIn::kUnderLoad},
      // Calls per message: B under --batch, 1 for single calls.
      {"B", true, [](const RowResult& r) { return std::to_string(std::max(1, r.id.batch)); }, ShownIn::kBatched},
      {"role", false, [](const RowResult& r) { return std::string(RoleName(r.id.role)); }},
      {"pin", false, [](const RowResult& r) { return r.placement.label; }},
      {"calls", true, [](const RowResult& r) { return std::to_string(r.calls); }},
      {"errors", true, [](const RowResult& r) { return std::to_string(r.errors); }},
      {"p50", true, [](const RowResult& r) { return Timed(r, r.latency_ns.p50); }},
      // A message's p50 over the calls it carried: what one call costs in a batch.
      {"per call", true, [](const RowResult& r) { return Timed(r, PerItemNs(r)); }, ShownIn::kBatched},
      {"p99", true, [](const RowResult& r) { return Timed(r, r.latency_ns.p99); }},
      {"p99.9", true, [](const RowResult& r) { return Timed(r, r.latency_ns.p999); }},
      {"max", true, [](const RowResult& r) { return Timed(r, r.latency_ns.max); }},
      // Bytes per message each way, as they crossed (JSON: request_bytes, reply_bytes, bytes_counted).
      {"req bytes", true, [](const RowResult& r) {
         return r.request_bytes && r.calls > 0 ? FormatBytes(*r.request_bytes) : std::string("-");
       }, ShownIn::kCounted},
      {"rep bytes", true, [](const RowResult& r) {
         return r.reply_bytes && r.calls > 0 ? FormatBytes(*r.reply_bytes) : std::string("-");
       }, ShownIn::kCounted},
      {"cpu/call", true, [](const RowResult& r) {
         // Every party's CPU time per call: what a spinning wait costs shows here.
         const CpuPerCall& c = r.cpu_ns_per_call;
         if (r.calls == 0 || !c.caller) return std::string("-");
         return FormatNs(*c.caller + c.peer.value_or(0) + c.broker.value_or(0));
       }},
      {"calls/s", true, [](const RowResult& r) {
         return r.calls_per_s > 0 ? FormatRate(r.calls_per_s) : std::string("-");
       }},
      {"vs floor", true, [](const RowResult& r) {
         if (!r.floor_ratio) return std::string("-");
         char buf[32];
         std::snprintf(buf, sizeof buf, "%.2fx", *r.floor_ratio);
         return std::string(buf);
       }},
      {"note", false, Note},
  };
  return cols;
}


// The columns this report shows: K only where some row ran under load, B
// and the cost per call only where some row made batches.
std::vector<Column> ShownColumns(const Report& report) {
  auto any = [&report](auto test) { return std::any_of(report.rows.begin(), report.rows.end(), test); };
  const bool load = any([](const RowResult& r) { return r.id.inflight > 0; });
  const bool batched = any([](const RowResult& r) { return r.id.batch > 0; });
  const bool counted = any([](const RowResult& r) { return r.request_bytes.has_value(); });
  std::vector<Column> shown;
  for (const auto& c : Columns()) {
    if (c.shown == ShownIn::kAll || (c.shown == ShownIn::kUnderLoad && load) ||
        (c.shown == ShownIn::kBatched && batched) || (c.shown == ShownIn::kCounted && counted)) {
      shown.push_back(c);
    }
  }
  return shown;
}

std::vector<std::vector<std::string>> Cells(const Report& report, const std::vector<Column>& cols) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : report.rows) {
    std::vector<std::string> cells;
    for (const auto& c : cols) cells.push_back(c.cell(r));
    rows.push_back(std::move(cells));
  }
  return rows;
}

std::string Number(const std::optional<double>& v) {
  if (!v) return "";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", *v);
  return buf;
}

}  // namespace

namespace {

// With --codec=LIST, the transports that carry none of some codec, once.
std::string NotApplicableLine(const Report& report) {
  const auto it = report.environment.find("not_applicable");
  if (it == report.environment.end() || !it->is_array() || it->empty()) return {};
  std::string line = "not applicable (no such row): ";
  for (std::size_t i = 0; i < it->size(); ++i) line += (i ? "; " : "") + (*it)[i].get<std::string>();
  return line;
}

}  // namespace

std::string RenderConsole(const Report& report) {
  const auto cols = ShownColumns(report);
  const auto cells = Cells(report, cols);
  std::vector<std::size_t> width(cols.size());
  for (std::size_t i = 0; i < cols.size(); ++i) {
    width[i] = DisplayWidth(cols[i].title);
    for (const auto& row : cells) width[i] = std::max(width[i], DisplayWidth(row[i]));
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& values) {
    std::string l;
    for (std::size_t i = 0; i < cols.size(); ++i) {
      const bool last = i + 1 == cols.size();
      l += last ? values[i] : PadToWidth(values[i], width[i], cols[i].right_aligned) + "  ";
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  if (report.interrupted) out += InterruptionLine(report) + "\n";
  if (const std::string na = NotApplicableLine(report); !na.empty()) out += na + "\n";
  std::vector<std::string> titles;
  for (const auto& c : cols) titles.push_back(c.title);
  line(titles);
  for (const auto& row : cells) line(row);
  return out;
}

std::string RenderMarkdown(const Report& report) {
  const auto cols = ShownColumns(report);
  std::string out = report.interrupted ? "**" + InterruptionLine(report) + "**\n\n" : "";
  if (const std::string na = NotApplicableLine(report); !na.empty()) out += na + "\n\n";
  out += "|";
  std::string rule = "|";
  for (const auto& c : cols) {
    out += std::string(" ") + c.title + " |";
    rule += c.right_aligned ? "---:|" : "---|";
  }
  out += "\n" + rule + "\n";
  for (const auto& row : Cells(report, cols)) {
    out += "|";
    for (const auto& v : row) {
      std::string escaped;
      for (char ch : v) escaped += ch == '|' ? std::string("\\|") : std::string(1, ch);
      out += " " + escaped + " |";
    }
    out += "\n";
  }
  return out;
}

std::string RenderCsv(const Report& report) {
  // CSV carries raw numbers (ns, calls/s), not display units; an absent
  // number is an empty field.
  std::string out =
      "tier,key,transport,caller,peer,workload,features,codec,inflight,batch,role,pin,status,calls,errors,"
      "calls_per_sample,p50_ns,p90_ns,p99_ns,p999_ns,max_ns,mean_ns,per_item_ns,request_bytes,reply_bytes,caller_cpu_ns_per_call,peer_cpu_ns_per_call,"
      "broker_cpu_ns_per_call,calls_per_s,throughput_inflight,floor_ratio,unstable,above_row_cause,reason,note,run\n";
  // The last column is the run's: "interrupted" on every row of a run that
  // was stopped before all its rows ran (CSV has no place for a run-level flag).
  const std::string run = report.interrupted ? "interrupted" : "complete";
  auto quote = [](const std::string& s) {
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  char buf[512];
  for (const auto& r : report.rows) {
    const RowId& id = r.id;
    std::snprintf(buf, sizeof buf, "%s,%s,%s,%s,%s,%s,%zu,%s,%d,%d,%s,%s,%s,%llu,%llu,%llu,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%s,%s,%s,",
                  quote(r.tier).c_str(), id.Key().c_str(), id.transport.c_str(), id.caller.c_str(),
                  id.peer.c_str(), id.workload.c_str(), id.features, id.codec.c_str(), id.inflight, id.batch,
                  std::string(RoleName(id.role)).c_str(), r.placement.label.c_str(), StatusName(r.status),
                  static_cast<unsigned long long>(r.calls), static_cast<unsigned long long>(r.errors),
                  static_cast<unsigned long long>(r.calls_per_sample), r.latency_ns.p50, r.latency_ns.p90,
                  r.latency_ns.p99, r.latency_ns.p999, r.latency_ns.max, r.latency_ns.mean,
                  id.batch > 0 && r.calls > 0 ? Number(PerItemNs(r)).c_str() : "", Number(r.request_bytes).c_str(),
                  Number(r.reply_bytes).c_str());
    out += buf;
    char ratio[32] = "";
    if (r.floor_ratio) std::snprintf(ratio, sizeof ratio, "%.3f", *r.floor_ratio);
    std::snprintf(buf, sizeof buf, "%s,%s,%s,%.1f,%d,%s,%s,", Number(r.cpu_ns_per_call.caller).c_str(),
                  Number(r.cpu_ns_per_call.peer).c_str(), Number(r.cpu_ns_per_call.broker).c_str(), r.calls_per_s,
                  r.throughput_inflight, ratio, r.unstable ? "true" : "false");
    out += buf + quote(r.above_row_cause) + "," + quote(r.reason) + "," + quote(r.note) + "," + run + "\n";
  }
  return out;
}

namespace {

// Whether the run was cut short, at the top of results.json and gbench.json.
void InterruptionJson(const Report& report, ordered_json& j) {
  j["interrupted"] = report.interrupted;
  if (report.interrupted) {
    j["interrupted_by"] = report.interrupted_by;
    j["not_run"] = report.not_run;
  }
}

}  // namespace

// One line for the top of the console and Markdown tables of a cut-short run.
std::string InterruptionLine(const Report& report) {
  if (!report.interrupted) return {};
  std::size_t kept = 0, cut = 0, partial = 0;
  const auto settings = report.environment.find("settings");
  const std::size_t planned = settings != report.environment.end() && settings->is_object()
                                  ? settings->value("repetitions", 0)
                                  : 0;
  for (const auto& r : report.rows) {
    (r.status == RowStatus::kInterrupted ? cut : kept) += 1;
    partial += r.status == RowStatus::kOk && r.id.role != RowRole::kReference && r.repetitions.size() < planned;
  }
  return "INTERRUPTED by " + report.interrupted_by + ": " + std::to_string(kept) + " row(s) finished and kept" +
         (partial > 0 ? " (" + std::to_string(partial) + " with only some of their repetitions)" : "") + ", " +
         std::to_string(cut) + " cut short (marked interrupted), " + std::to_string(report.not_run.size()) +
         " not run";
}

std::string RenderJson(const Report& report) {
  ordered_json j;
  j["schema_version"] = kResultsSchemaVersion;
  j["tool"] = "interop-spectrum bench";
  InterruptionJson(report, j);
  j["environment"] = report.environment;
  j["rows"] = ordered_json::array();
  for (const auto& r : report.rows) j["rows"].push_back(RowToJson(r));
  return DumpJson(j, 2) + "\n";
}

namespace {

// Google Benchmark's aggregates over the repetitions' values, by its names.
std::vector<std::pair<std::string, double>> Aggregates(std::vector<double> v) {
  const double n = static_cast<double>(v.size());
  const double mean = std::accumulate(v.begin(), v.end(), 0.0) / n;
  std::sort(v.begin(), v.end());
  const double median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  double sq = 0;
  for (double x : v) sq += (x - mean) * (x - mean);
  const double stddev = v.size() > 1 ? std::sqrt(sq / (n - 1)) : 0;
  return {{"mean", mean}, {"median", median}, {"stddev", stddev}, {"cv", mean > 0 ? stddev / mean : 0}};
}

}  // namespace

std::string RenderGbenchJson(const Report& report) {
  ordered_json j;
  const auto& env = report.environment;
  InterruptionJson(report, j);
  j["context"] = {{"date", env.value("date_utc", "")},
                  {"host_name", env.value("host", "")},
                  {"executable", "bench"},
                  {"num_cpus", env.value("cores", 0)},
                  {"mhz_per_cpu", env.value("mhz_per_cpu", 0)},
                  {"cpu_scaling_enabled", env.value("cpu_scaling_enabled", false)},
                  {"caches", env.value("caches", ordered_json::array())},
                  {"load_avg", env.value("load_avg", ordered_json::array())},
                  {"library_build_type", env.value("build_type", "").rfind("release", 0) == 0 ? "release" : "debug"},
                  {"interrupted", report.interrupted},
                  {"interop_spectrum_environment", env}};
  j["benchmarks"] = ordered_json::array();
  int family = 0;
  for (const auto& r : report.rows) {
    if (!Ok(r) || r.repetitions.empty()) continue;
    const std::string name = r.id.Key();
    const auto reps = r.repetitions.size();
    std::vector<double> real, cpu;
    for (std::size_t i = 0; i < reps; ++i) {
      const RepetitionStats& rep = r.repetitions[i];
      real.push_back(rep.mean_ns);
      cpu.push_back(rep.caller_cpu_ns_per_call.value_or(0));
      j["benchmarks"].push_back({{"name", name},
                                 {"family_index", family},
                                 {"per_family_instance_index", 0},
                                 {"run_name", name},
                                 {"run_type", "iteration"},
                                 {"repetitions", reps},
                                 {"repetition_index", i},
                                 {"threads", 1},
                                 {"iterations", rep.calls},
                                 {"real_time", rep.mean_ns},
                                 {"cpu_time", cpu.back()},
                                 {"time_unit", "ns"},
                                 {"p50_ns", rep.p50_ns},
                                 {"peer_cpu_ns", rep.peer_cpu_ns_per_call.value_or(0)}});
    }
    if (reps > 1) {
      const auto real_aggregates = Aggregates(real);
      const auto cpu_aggregates = Aggregates(cpu);
      for (std::size_t a = 0; a < real_aggregates.size(); ++a) {
        const std::string& what = real_aggregates[a].first;
        j["benchmarks"].push_back({{"name", name + "_" + what},
                                   {"family_index", family},
                                   {"per_family_instance_index", 0},
                                   {"run_name", name},
                                   {"run_type", "aggregate"},
                                   {"repetitions", reps},
                                   {"threads", 1},
                                   {"aggregate_name", what},
                                   {"aggregate_unit", what == "cv" ? "percentage" : "time"},
                                   {"iterations", reps},
                                   {"real_time", real_aggregates[a].second},
                                   {"cpu_time", cpu_aggregates[a].second},
                                   {"time_unit", "ns"}});
      }
    }
    ++family;
  }
  return DumpJson(j, 2) + "\n";
}

Report ParseResultsJson(const std::string& text) {
  Report report;
  try {
    const auto j = nlohmann::json::parse(text);
    // Schemas 3 to 5 only added fields (4 also renamed the throughput run's
    // "inflight", 5 the reference's p50_ratio_* to a measure and ratio_*,
    // RowFromJson): an older reference reads as is.
    const int version = j.at("schema_version");
    if (version < 2 || version > kResultsSchemaVersion) {
      throw std::runtime_error("unsupported schema_version " + j.at("schema_version").dump() + " (this bench reads 2 to " +
                               std::to_string(kResultsSchemaVersion) + ")");
    }
    report.environment = j.at("environment");
    report.interrupted = j.value("interrupted", false);  // added within schema 2: absent means a whole run
    if (report.interrupted) {
      report.interrupted_by = j.at("interrupted_by");
      report.not_run = j.at("not_run").get<std::vector<std::string>>();
    }
    for (const auto& row : j.at("rows")) report.rows.push_back(RowFromJson(row));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("not a results.json: ") + e.what());
  } catch (const std::invalid_argument& e) {
    throw std::runtime_error(std::string("not a results.json: ") + e.what());
  }
  return report;
}

}  // namespace interop
