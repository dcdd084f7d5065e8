// bench: drives one add/score workload through every interop mechanism and
// reports what crossing each boundary costs. All argument parsing lives here
// (CLI11 is expensive to compile); the work is in bench_core.
#include <benchmark/benchmark.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <random>
#include <thread>

#include "bench/baseline.h"
#include "bench/compare.h"
#include "bench/environment.h"
#include "bench/process_guard.h"
#include "bench/report.h"
#include "bench/row_plan.h"
#include "bench/services.h"
#include "common/raw_frame.h"
#include "common/temp_dir.h"
#include "transports/shm/shm_segment.h"
#include "transports/ffi/ffi_client.h"

namespace {

using namespace interop;

struct Options {
  std::string transports = "all";
  std::string peers = "all";
  std::string workload = "add";
  std::size_t features = 256;
  uint64_t calls = 0;
  std::optional<double> duration_s;
  std::optional<double> warmup_s;
  std::optional<int> repetitions;
  std::optional<double> throughput_s;
  int inflight = 16;
  std::string pin = "auto";
  std::string codec;
  bool quick = false;
  bool list = false;
  bool baseline = false;
  double call_timeout_s = 5;
  double ready_timeout_s = 30;
  std::string out_dir;
  std::string redis_url;
  std::string shm_wait = "both";
  std::string file_wait = "both";
};

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  return static_cast<bool>(out);
}

std::string JoinArgs(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
  return s;
}

// "unix/cpp/add: p50 10.8 µs vs hand-written ping-pong 10.5 µs = 1.03x"
std::string BaselineComparison(const std::vector<RowResult>& rows) {
  std::string out;
  for (const auto& base : rows) {
    if (!base.is_baseline || base.status != "ok") continue;
    for (const auto& r : rows) {
      if (r.is_baseline || r.status != "ok" || r.transport != base.transport ||
          r.peer != base.peer || r.workload != base.workload) {
        continue;
      }
      char buf[256];
      std::snprintf(buf, sizeof buf, "  %-7s %-7s %-6s p50 %10s vs hand-written ping-pong %10s = %.2fx\n",
                    r.transport.c_str(), r.peer.c_str(), r.workload.c_str(),
                    FormatNs(r.latency_ns.p50).c_str(), FormatNs(base.latency_ns.p50).c_str(),
                    r.latency_ns.p50 / base.latency_ns.p50);
      out += buf;
    }
  }
  return out;
}

int Run(const Options& o, const std::string& command_line) {
  if (o.list) {
    std::cout << RenderTransportList();
    return 0;
  }
  RunSettings s;
  if (o.workload == "add") s.op = Op::kAdd;
  else if (o.workload == "score") s.op = Op::kScore;
  else throw UsageError("unknown workload '" + o.workload + "'; valid: add, score");
  if (o.features > raw::kMaxFeatures) {
    throw UsageError("--features must be at most " + std::to_string(raw::kMaxFeatures));
  }
  s.features = o.features;
  s.calls = o.calls;
  s.duration_s = o.duration_s.value_or(o.quick ? 0.2 : 1.0);
  s.warmup_s = o.warmup_s.value_or(o.quick ? 0.05 : 0.5);
  s.repetitions = o.repetitions.value_or(o.quick ? 1 : 3);
  s.throughput_s = o.throughput_s.value_or(o.quick ? 0.1 : 0.5);
  s.inflight = o.inflight;
  s.call_timeout_s = o.call_timeout_s;
  s.ready_timeout_s = o.ready_timeout_s;
  PinPolicy policy;
  if (!ParsePinPolicy(o.pin, &policy)) throw UsageError("unknown --pin '" + o.pin + "'; valid: auto, same, split, none");
  const auto transports = SelectTransports(o.transports, {{"shm", o.shm_wait}, {"file", o.file_wait}});
  const auto peers = SelectPeers(o.peers);
  if (!o.codec.empty()) {
    for (const TransportSpec* t : transports) {
      if (t->default_codec != o.codec) {
        throw UsageError("transport " + std::string(t->name) + " does not support --codec=" + o.codec +
                         " (it speaks " + std::string(t->default_codec) + ")");
      }
    }
  }

  if (const int stale = RemoveStaleTempDirs() + shm::RemoveStaleSegments(); stale > 0) {
    std::fprintf(stderr, "removed %d temp dir(s) or shm segment(s) left by earlier runs that were killed\n", stale);
  }
  TempDir run_dir;
  std::string log_dir = run_dir.path() + "/logs";
  if (!o.out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(o.out_dir + "/logs", ec);
    if (ec) throw UsageError("cannot create " + o.out_dir + "/logs: " + ec.message());
    log_dir = o.out_dir + "/logs";
  } else {
    std::filesystem::create_directories(log_dir);
  }

  Pinning pinning(policy);  // the CPUs this process may use, as the kernel says
  pinning.Calibrate();
  Report report;
  report.environment = CaptureEnvironment(command_line);
  report.environment["timer_overhead_ns"] = TimerOverheadNs();
  report.environment["pinning"] = pinning.Describe();
  report.environment["settings"] = {
      {"workload", o.workload}, {"features", s.features}, {"calls", s.calls},
      {"duration_s", s.duration_s}, {"warmup_s", s.warmup_s}, {"repetitions", s.repetitions},
      {"throughput_s", s.throughput_s}, {"inflight", s.inflight}, {"call_timeout_s", s.call_timeout_s}};
  std::printf("interop-spectrum bench: %s, %s\n", report.environment["cpu_model"].get<std::string>().c_str(),
              report.environment["git_commit"].get<std::string>().c_str());
  std::printf("%s\ntimer overhead %.0f ns per clock pair\n\n", pinning.Describe().c_str(),
              report.environment["timer_overhead_ns"].get<double>());
  std::fflush(stdout);

  const std::string run_id = std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}() % 0x10000);
  Services services(run_dir.path(), run_id, log_dir, o.redis_url);
  const RunContext ctx{run_dir.path(), log_dir, &pinning, run_id, &services};
  for (const RowSpec& spec : PlanRows(transports, peers, o.codec)) {
    if (Interrupted()) break;
    std::fprintf(stderr, "  running %s / %s ...\n", std::string(spec.transport->name).c_str(),
                 std::string(PeerName(spec.peer)).c_str());
    report.rows.push_back(RunRow(spec, s, ctx));
    if (o.baseline && HasBaseline(*spec.transport, spec.peer) && !Interrupted()) {
      report.rows.push_back(RunBaselineRow(spec, s, ctx));
    }
  }

  services.Shutdown();
  std::cout << RenderConsole(report);
  if (o.baseline) std::cout << "\nagainst the hand-written baselines:\n" << BaselineComparison(report.rows);
  int failed = 0;
  for (const auto& r : report.rows) failed += r.status != "ok";
  if (!o.out_dir.empty()) {
    bool ok = WriteFile(o.out_dir + "/results.json", RenderJson(report)) &&
              WriteFile(o.out_dir + "/results.md", RenderMarkdown(report)) &&
              WriteFile(o.out_dir + "/results.csv", RenderCsv(report)) &&
              WriteFile(o.out_dir + "/gbench.json", RenderGbenchJson(report));
    if (!ok) {
      std::fprintf(stderr, "bench: could not write results to %s\n", o.out_dir.c_str());
      return 1;
    }
    std::printf("\nwrote %s/results.json (+ .md, .csv, gbench.json, logs/)\n", o.out_dir.c_str());
  }
  if (Interrupted()) {
    std::fprintf(stderr, "bench: interrupted\n");
    return InterruptExitCode();
  }
  if (failed) std::fprintf(stderr, "bench: %d row(s) failed\n", failed);
  return failed ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  int stack_base_marker = 0;
  interop::RecordStackBase(&stack_base_marker);  // embedded Ruby scans the stack up to here
  interop::InstallProcessGuard();
  {
    // Google Benchmark drives iterations and repetitions; it gets no flags of its own.
    int gb_argc = 1;
    char* gb_argv[] = {argv[0], nullptr};
    benchmark::Initialize(&gb_argc, gb_argv);
  }

  Options o;
  CLI::App app{
      "interop-spectrum bench: what does it cost to cross a language boundary?\n"
      "Runs one add/score workload through each transport with C++, Python and Ruby\n"
      "on the far side; every reply is checked. Exit status: 0 all rows ok, 1 a row\n"
      "failed, 2 bad usage, 128+N interrupted by signal N."};
  app.add_option("--transport", o.transports, "comma-separated transports, or all (see --list)")->capture_default_str();
  app.add_option("--peer", o.peers, "comma-separated peers (cpp, python, ruby), or all")->capture_default_str();
  app.add_option("--workload", o.workload, "add or score")->capture_default_str();
  app.add_option("--features", o.features, "score: feature vector length")->capture_default_str();
  auto* calls = app.add_option("--calls", o.calls, "timed calls per repetition (default: by --duration)");
  app.add_option("--duration", o.duration_s, "seconds of timed calls per repetition (default 1, --quick 0.2)")
      ->excludes(calls);
  app.add_option("--warmup", o.warmup_s, "warmup seconds per row (default 0.5, --quick 0.05)");
  app.add_option("--repetitions", o.repetitions, "repetitions of the latency run (default 3, --quick 1)")
      ->check(CLI::Range(1, 1000));
  app.add_option("--throughput", o.throughput_s, "seconds of the throughput run, 0 to skip (default 0.5, --quick 0.1)");
  app.add_option("--inflight", o.inflight, "calls in flight in the throughput run")->capture_default_str()
      ->check(CLI::Range(1, 4096));
  app.add_option("--pin", o.pin, "auto|same|split|none: where harness and peer run")->capture_default_str();
  app.add_option("--codec", o.codec, "override the transport's codec where it allows one");
  app.add_flag("--quick", o.quick, "short run: 0.2 s per row, 1 repetition");
  app.add_flag("--baseline", o.baseline, "also time a hand-written ping-pong per stream row (echo peer)");
  app.add_option("--timeout", o.call_timeout_s, "seconds without a reply before a row fails")->capture_default_str();
  app.add_option("--ready-timeout", o.ready_timeout_s, "seconds a peer has to print READY")->capture_default_str();
  app.add_option("--shm-wait", o.shm_wait, "shm rows: spin, futex or both")->capture_default_str();
  app.add_option("--file-wait", o.file_wait, "file rows: inotify, poll or both")->capture_default_str();
  app.add_option("--redis", o.redis_url,
                 "use this Redis server (unix:///path or redis://host:port) instead of a private one");
  app.add_option("--out", o.out_dir, "write results.json, .md, .csv, gbench.json and peer logs here");
  app.add_flag("--list", o.list, "list every transport x peer and whether it can run here");
  std::string base_json, new_json;
  double threshold = 0.10;
  CLI::App* compare = app.add_subcommand(
      "compare", "compare two results.json files; exit 1 if a row got slower beyond noise, failed or vanished");
  compare->add_option("BASE", base_json, "the reference results.json")->required()->check(CLI::ExistingFile);
  compare->add_option("NEW", new_json, "the results.json to judge")->required()->check(CLI::ExistingFile);
  compare->add_option("--threshold", threshold, "allowed slowdown before noise, as a fraction")->capture_default_str()
      ->check(CLI::Range(0.0, 10.0));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (compare->parsed()) {
      auto read = [](const std::string& path) {
        std::ifstream in(path);
        return ParseResultsJson(std::string(std::istreambuf_iterator<char>(in), {}));
      };
      const auto rows = CompareReports(read(base_json), read(new_json), threshold);
      std::cout << RenderComparison(rows, threshold);
      return AnyRegression(rows) ? 1 : 0;
    }
    return Run(o, JoinArgs(argc, argv));
  } catch (const interop::UsageError& e) {
    std::fprintf(stderr, "bench: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench: %s\n", e.what());
    return 1;
  }
}
