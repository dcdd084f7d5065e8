#include "bench/report.h"

#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

namespace interop {

using nlohmann::ordered_json;

ordered_json RowToJson(const RowResult& r) {
  ordered_json j;
  j["transport"] = r.transport;
  j["tier"] = r.tier;
  j["peer"] = r.peer;
  j["workload"] = r.workload;
  j["features"] = r.features;
  j["codec"] = r.codec;
  j["pin"] = r.pin;
  j["status"] = r.status;
  j["reason"] = r.reason;
  j["baseline"] = r.is_baseline;
  j["calls"] = r.calls;
  j["errors"] = r.errors;
  j["batch"] = r.batch;
  j["p50_ns"] = r.latency_ns.p50;
  j["p90_ns"] = r.latency_ns.p90;
  j["p99_ns"] = r.latency_ns.p99;
  j["p999_ns"] = r.latency_ns.p999;
  j["max_ns"] = r.latency_ns.max;
  j["min_ns"] = r.latency_ns.min;
  j["mean_ns"] = r.latency_ns.mean;
  j["samples"] = r.latency_ns.count;
  j["calls_per_s"] = r.calls_per_s;
  j["inflight"] = r.inflight;
  j["p50_spread"] = r.stability_spread;
  j["unstable"] = r.unstable;
  j["harness_cpu_ns_per_call"] = r.harness_cpu_ns_per_call;
  j["peer_cpu_ns_per_call"] = r.peer_cpu_ns_per_call;
  j["repetitions"] = ordered_json::array();
  for (const auto& rep : r.repetitions) {
    j["repetitions"].push_back({{"iterations", rep.iterations},
                                {"real_time_s", rep.real_time_s},
                                {"cpu_time_s", rep.cpu_time_s},
                                {"p50_ns", rep.p50_ns}});
  }
  return j;
}

std::string DumpJson(const ordered_json& j, int indent) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

RowResult RowFromJson(const nlohmann::json& j) {
  RowResult r;
  r.transport = j.at("transport");
  r.tier = j.at("tier");
  r.peer = j.at("peer");
  r.workload = j.at("workload");
  r.features = j.at("features");
  r.codec = j.at("codec");
  r.pin = j.at("pin");
  r.status = j.at("status");
  r.reason = j.at("reason");
  r.is_baseline = j.value("baseline", false);
  r.calls = j.at("calls");
  r.errors = j.at("errors");
  r.batch = j.at("batch");
  r.latency_ns.p50 = j.at("p50_ns");
  r.latency_ns.p90 = j.at("p90_ns");
  r.latency_ns.p99 = j.at("p99_ns");
  r.latency_ns.p999 = j.at("p999_ns");
  r.latency_ns.max = j.at("max_ns");
  r.latency_ns.min = j.at("min_ns");
  r.latency_ns.mean = j.at("mean_ns");
  r.latency_ns.count = j.at("samples");
  r.calls_per_s = j.at("calls_per_s");
  r.inflight = j.at("inflight");
  r.stability_spread = j.at("p50_spread");
  r.unstable = j.at("unstable");
  r.harness_cpu_ns_per_call = j.at("harness_cpu_ns_per_call");
  r.peer_cpu_ns_per_call = j.at("peer_cpu_ns_per_call");
  for (const auto& rep : j.at("repetitions")) {
    r.repetitions.push_back({rep.at("iterations"), rep.at("real_time_s"), rep.at("cpu_time_s"),
                             rep.at("p50_ns")});
  }
  return r;
}

std::string FormatNs(double ns) {
  char buf[32];
  if (ns < 1000) std::snprintf(buf, sizeof buf, ns < 10 ? "%.2f ns" : (ns < 100 ? "%.1f ns" : "%.0f ns"), ns);
  else if (ns < 1e6) std::snprintf(buf, sizeof buf, ns < 1e4 ? "%.2f µs" : (ns < 1e5 ? "%.1f µs" : "%.0f µs"), ns / 1e3);
  else if (ns < 1e9) std::snprintf(buf, sizeof buf, ns < 1e7 ? "%.2f ms" : (ns < 1e8 ? "%.1f ms" : "%.0f ms"), ns / 1e6);
  else std::snprintf(buf, sizeof buf, "%.2f s", ns / 1e9);
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
struct Column {
  const char* title;
  bool right_aligned;
  std::string (*cell)(const RowResult&);
};

bool Ok(const RowResult& r) { return r.status == "ok"; }
std::string Timed(const RowResult& r, double ns) { return r.calls > 0 ? FormatNs(ns) : "-"; }

const std::vector<Column>& Columns() {
  static const std::vector<Column> cols = {
      {"tier", false, [](const RowResult& r) { return r.tier; }},
      {"transport", false, [](const RowResult& r) { return r.transport; }},
      {"peer", false, [](const RowResult& r) { return r.peer; }},
      {"workload", false, [](const RowResult& r) {
         return r.workload == "score" ? "score/" + std::to_string(r.features) : r.workload;
       }},
      {"codec", false, [](const RowResult& r) { return r.codec; }},
      {"pin", false, [](const RowResult& r) { return r.pin; }},
      {"calls", true, [](const RowResult& r) { return std::to_string(r.calls); }},
      {"errors", true, [](const RowResult& r) { return std::to_string(r.errors); }},
      {"p50", true, [](const RowResult& r) { return Timed(r, r.latency_ns.p50); }},
      {"p99", true, [](const RowResult& r) { return Timed(r, r.latency_ns.p99); }},
      {"p99.9", true, [](const RowResult& r) { return Timed(r, r.latency_ns.p999); }},
      {"max", true, [](const RowResult& r) { return Timed(r, r.latency_ns.max); }},
      {"cpu/call", true, [](const RowResult& r) {
         // Both sides' CPU time per call: what a spinning wait costs shows here.
         const double cpu = r.harness_cpu_ns_per_call + r.peer_cpu_ns_per_call;
         return r.calls > 0 && cpu > 0 ? FormatNs(cpu) : std::string("-");
       }},
      {"calls/s", true, [](const RowResult& r) {
         return r.calls_per_s > 0 ? FormatRate(r.calls_per_s) : std::string("-");
       }},
      {"note", false, [](const RowResult& r) {
         std::string note;
         if (!Ok(r)) note = "FAILED: " + r.reason;
         else if (r.unstable) note = "unstable (p50 moved " + std::to_string(int(r.stability_spread * 100)) + "%)";
         if (r.batch > 1 && Ok(r)) note += (note.empty() ? "" : "; ") + std::string("timed in batches of ") + std::to_string(r.batch);
         return note;
       }},
  };
  return cols;
}

// Display width of UTF-8 text (µ is two bytes, one column).
std::size_t Width(const std::string& s) {
  std::size_t w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80;
  return w;
}

std::string Pad(const std::string& s, std::size_t width, bool right) {
  const std::string fill(width > Width(s) ? width - Width(s) : 0, ' ');
  return right ? fill + s : s + fill;
}

std::vector<std::vector<std::string>> Cells(const Report& report) {
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : report.rows) {
    std::vector<std::string> cells;
    for (const auto& c : Columns()) cells.push_back(c.cell(r));
    rows.push_back(std::move(cells));
  }
  return rows;
}

}  // namespace

std::string RenderConsole(const Report& report) {
  const auto& cols = Columns();
  const auto cells = Cells(report);
  std::vector<std::size_t> width(cols.size());
  for (std::size_t i = 0; i < cols.size(); ++i) {
    width[i] = Width(cols[i].title);
    for (const auto& row : cells) width[i] = std::max(width[i], Width(row[i]));
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& values) {
    std::string l;
    for (std::size_t i = 0; i < cols.size(); ++i) {
      const bool last = i + 1 == cols.size();
      l += last ? values[i] : Pad(values[i], width[i], cols[i].right_aligned) + "  ";
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  std::vector<std::string> titles;
  for (const auto& c : cols) titles.push_back(c.title);
  line(titles);
  for (const auto& row : cells) line(row);
  return out;
}

std::string RenderMarkdown(const Report& report) {
  const auto& cols = Columns();
  std::string out = "|";
  std::string rule = "|";
  for (const auto& c : cols) {
    out += std::string(" ") + c.title + " |";
    rule += c.right_aligned ? "---:|" : "---|";
  }
  out += "\n" + rule + "\n";
  for (const auto& row : Cells(report)) {
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
  // CSV carries raw numbers (ns, calls/s), not display units.
  std::string out =
      "tier,transport,peer,workload,features,codec,pin,status,calls,errors,batch,"
      "p50_ns,p90_ns,p99_ns,p999_ns,max_ns,mean_ns,calls_per_s,inflight,unstable,reason\n";
  auto quote = [](const std::string& s) {
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
  };
  char buf[512];
  for (const auto& r : report.rows) {
    std::snprintf(buf, sizeof buf, "%s,%s,%s,%s,%zu,%s,%s,%s,%llu,%llu,%llu,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%.1f,%d,%s,",
                  quote(r.tier).c_str(), r.transport.c_str(), r.peer.c_str(), r.workload.c_str(),
                  r.features, r.codec.c_str(), r.pin.c_str(), r.status.c_str(),
                  static_cast<unsigned long long>(r.calls), static_cast<unsigned long long>(r.errors),
                  static_cast<unsigned long long>(r.batch), r.latency_ns.p50, r.latency_ns.p90,
                  r.latency_ns.p99, r.latency_ns.p999, r.latency_ns.max, r.latency_ns.mean,
                  r.calls_per_s, r.inflight, r.unstable ? "true" : "false");
    out += buf + quote(r.reason) + "\n";
  }
  return out;
}

std::string RenderJson(const Report& report) {
  ordered_json j;
  j["schema_version"] = kResultsSchemaVersion;
  j["tool"] = "interop-spectrum bench";
  j["environment"] = report.environment;
  j["rows"] = ordered_json::array();
  for (const auto& r : report.rows) j["rows"].push_back(RowToJson(r));
  return DumpJson(j, 2) + "\n";
}

std::string RenderGbenchJson(const Report& report) {
  // The shape of google/benchmark's --benchmark_format=json, built from the
  // repetitions it ran (in-process rows ran in a child and sent theirs back).
  ordered_json j;
  j["context"] = {{"executable", "bench"},
                  {"interop_spectrum_environment", report.environment}};
  j["benchmarks"] = ordered_json::array();
  for (const auto& r : report.rows) {
    const std::string name = r.transport + "/" + r.peer + "/" + r.workload;
    for (std::size_t i = 0; i < r.repetitions.size(); ++i) {
      const auto& rep = r.repetitions[i];
      const double per_iter = rep.iterations ? rep.real_time_s * 1e9 / rep.iterations : 0;
      j["benchmarks"].push_back({{"name", name},
                                 {"run_name", name},
                                 {"run_type", "iteration"},
                                 {"repetitions", r.repetitions.size()},
                                 {"repetition_index", i},
                                 {"threads", 1},
                                 {"iterations", rep.iterations},
                                 {"real_time", per_iter},
                                 {"cpu_time", rep.iterations ? rep.cpu_time_s * 1e9 / rep.iterations : 0},
                                 {"time_unit", "ns"},
                                 {"calls_per_iteration", r.batch},
                                 {"p50_ns", rep.p50_ns}});
    }
  }
  return DumpJson(j, 2) + "\n";
}

Report ParseResultsJson(const std::string& text) {
  Report report;
  try {
    const auto j = nlohmann::json::parse(text);
    if (j.at("schema_version") != kResultsSchemaVersion) {
      throw std::runtime_error("unsupported schema_version " + j.at("schema_version").dump());
    }
    report.environment = j.at("environment");
    for (const auto& row : j.at("rows")) report.rows.push_back(RowFromJson(row));
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("not a results.json: ") + e.what());
  }
  return report;
}

}  // namespace interop
