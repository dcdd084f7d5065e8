#include "bench/reference.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "bench/peer_process.h"

namespace interop {

// wrk prints durations as "27.00us", "1.23ms", "2.00s".
double WrkDurationNs(const std::string& text) {
  std::size_t used = 0;
  const double v = std::stod(text, &used);
  const std::string unit = text.substr(used);
  if (unit == "us") return v * 1e3;
  if (unit == "ms") return v * 1e6;
  if (unit == "s") return v * 1e9;
  if (unit == "m") return v * 60e9;
  throw std::runtime_error("wrk printed a duration I cannot read: " + text);
}

ReferenceRun ParseWrkOutput(const std::string& output) {
  ReferenceRun run;
  bool p50 = false, requests = false;
  std::istringstream in(output);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string first, second, third, fourth;
    words >> first >> second >> third >> fourth;
    if (first == "Latency" && !fourth.empty() && fourth.back() != '%') {
      run.max_ns = WrkDurationNs(fourth);  // "Latency  avg  stdev  max  +/-stdev"
    } else if (first == "50%") {
      run.p50_ns = WrkDurationNs(second);
      p50 = true;
    } else if (first == "90%") {
      run.p90_ns = WrkDurationNs(second);
    } else if (first == "99%") {
      run.p99_ns = WrkDurationNs(second);
    } else if (second == "requests" && third == "in") {
      run.requests = std::stoull(first);
      requests = true;
    } else if (first == "Requests/sec:") {
      run.requests_per_s = std::stod(second);
    } else if (first == "Non-2xx" || first == "Socket") {
      throw std::runtime_error("wrk: " + line.substr(line.find_first_not_of(' ')));
    }
  }
  if (!p50 || !requests || run.requests == 0) throw std::runtime_error("wrk printed no latency distribution");
  return run;
}

ReferenceRun RunWrk(const WrkTarget& t) {
  if (::access(kWrk, X_OK) != 0) throw std::runtime_error(std::string(kWrk) + " not found (apt-get install wrk)");
  // The row's body, POSTed as the row posts it; Lua's long brackets take any
  // bytes but their own closing, which JSON never contains.
  const std::string& script = t.script_path;
  std::ofstream(script) << "wrk.method = \"POST\"\nwrk.body = [==[" << t.body << "]==]\n"
                        << "wrk.headers[\"Content-Type\"] = \"application/json\"\n";
  PeerLaunch launch;
  launch.argv = {kWrk, "-t1", "-c" + std::to_string(t.connections), "-d" + std::to_string(t.seconds) + "s", "--latency", "-s", script,
                 "http://" + t.address + t.path};
  launch.cpu = t.cpu;
  launch.log_path = t.log_path;  // its stdout and stderr
  launch.ready_probe = [] { return true; };  // nothing to wait for: it runs, then exits
  PeerProcess wrk(launch);
  const std::string how = wrk.DescribeExit(t.seconds + 10.0);
  std::ifstream in(launch.log_path);
  const std::string output((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (how != "exited with status 0") {
    throw std::runtime_error("wrk " + how + ": " + FileTail(launch.log_path, 3));
  }
  return ParseWrkOutput(output);
}

RowResult ReferenceRowOf(RowResult& row) {
  const std::vector<ReferenceRun>& runs = row.reference_runs;
  RowResult ref;
  ref.id = row.id;
  ref.id.caller = "wrk";
  ref.id.role = RowRole::kReference;
  ref.tier = row.tier;
  ref.placement = row.placement;
  ref.placement.watchdog_cpu = -1;  // wrk has none; the row's watched it
  ref.note = "wrk -t1 -c" + std::to_string(std::max(1, row.id.inflight)) +
             " against the row's peer, one run after each of the row's repetitions; wrk's own percentiles";
  if (runs.empty()) {
    ref.status = RowStatus::kFailed;
    ref.reason = !row.reference_error.empty() ? row.reference_error
                 : Ok(row)                     ? "wrk did not run"
                                               : "the row failed before wrk ran";
    return ref;
  }
  // wrk's figures of its median run, by p50 (its percentiles do not pool).
  std::vector<ReferenceRun> by_p50 = runs;
  std::sort(by_p50.begin(), by_p50.end(), [](const auto& a, const auto& b) { return a.p50_ns < b.p50_ns; });
  const ReferenceRun& mid = by_p50[by_p50.size() / 2];
  ref.latency_ns.p50 = mid.p50_ns;
  ref.latency_ns.p90 = mid.p90_ns;
  ref.latency_ns.p99 = mid.p99_ns;
  ref.latency_ns.max = mid.max_ns;
  ref.calls_per_s = mid.requests_per_s;
  ref.p50_low_ns = by_p50.front().p50_ns;
  ref.p50_high_ns = by_p50.back().p50_ns;
  for (const auto& r : runs) ref.calls += r.requests;
  if (ref.latency_ns.p50 > 0) ref.p50_spread = (ref.p50_high_ns - ref.p50_low_ns) / ref.latency_ns.p50;
  // The row against wrk, pair by pair: repetition i ran just before wrk run
  // i. Under load on calls/s, not p50: wrk starts a call's clock when it
  // writes the request and schedules the connection's next write for its
  // next event-loop pass, so the wait between a response and the next
  // request is in neither its latency nor ours-as-wrk-sees-it. On one
  // shared core that wait is most of the cycle, and wrk's p50 then shows
  // about one call's service time at any -c (src/wrk.c: socket_writeable,
  // response_complete). Ours is send to reply with K truly in flight.
  const bool under_load = row.id.inflight > 1;
  std::vector<double> ratios;
  for (std::size_t i = 0; i < runs.size() && i < row.repetitions.size(); ++i) {
    const RepetitionStats& rep = row.repetitions[i];
    if (under_load ? runs[i].requests_per_s > 0 && rep.calls_per_s > 0 : runs[i].p50_ns > 0 && rep.calls > 0) {
      ratios.push_back(under_load ? rep.calls_per_s / runs[i].requests_per_s : rep.p50_ns / runs[i].p50_ns);
    }
  }
  if (!ratios.empty()) {
    std::sort(ratios.begin(), ratios.end());
    row.reference = ReferenceRatio{"wrk", under_load ? "calls_per_s" : "p50", ratios[ratios.size() / 2],
                                   ratios.front(), ratios.back(), static_cast<int>(ratios.size())};
  }
  return ref;
}

}  // namespace interop
