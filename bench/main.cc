// bench: drives one add/score workload through every interop mechanism and
// reports what crossing each boundary costs. All argument parsing lives here
// (CLI11 is expensive to compile); the work is in bench_core.
#include <CLI/CLI.hpp>
#include <sys/resource.h>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "bench/compare.h"
#include "bench/export.h"
#include "bench/floors.h"
#include "bench/options.h"
#include "bench/process_guard.h"
#include "bench/session.h"
#include "transports/ffi/ffi_client.h"

namespace {

using namespace interop;

std::string JoinArgs(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + std::string(argv[i]);
  return s;
}

// The whole run, as a pipeline: options -> plan -> measure -> aggregate -> export.
int Bench(const BenchOptions& options, const std::string& command_line) {
  const Plan plan = MakePlan(options);          // every value checked; UsageError otherwise
  Report report = RunPlan(plan, command_line);  // every row measured, in order
  AnnotateFloors(report.rows);                  // each row against its floor
  return ExportReport(report, plan.out_dir);    // table, files, exit status
}

// --normalize is automatic when both runs were made with it (--raw turns it
// off); asked for by hand, it needs floors in both (--baseline runs).
int Compare(const std::string& base_json, const std::string& new_json, CompareOptions options, bool raw,
            const std::string& format) {
  auto read = [](const std::string& path) {
    std::ifstream in(path);
    return ParseResultsJson(std::string(std::istreambuf_iterator<char>(in), {}));
  };
  const Report base = read(base_json), now = read(new_json);
  options.normalize = !raw && (options.normalize || BothNormalized(base, now));
  const auto rows = CompareReports(base, now, options);
  std::cout << RenderComparison(rows, options, format);
  return AnyRegression(rows) ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  int stack_base_marker = 0;
  interop::RecordStackBase(&stack_base_marker);  // embedded Ruby scans the stack up to here
  interop::InstallProcessGuard();
  // A row under load holds K connections on each side (REST, and wrk's K
  // beside it), its peer too: take the hard limit on open files, as load
  // tools do, rather than fail at a soft limit of 1024.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }

  BenchOptions o;
  bool list = false;
  CLI::App app{
      "interop-spectrum bench: what does it cost to cross a language boundary?\n"
      "Runs one add/score workload through each transport with C++, Python and Ruby\n"
      "on the far side; every reply is checked. Exit status: 0 all rows ok, 1 a row\n"
      "failed, 2 bad usage, 128+N interrupted by signal N."};
  app.add_option("--transport", o.transports, "comma-separated transports, or all (see --list; default all)");
  app.add_option("--peer", o.peers, "comma-separated peers (cpp, python, ruby), or all (default all)");
  app.add_option("--workload", o.workload, "add or score")->capture_default_str();
  app.add_option("--features", o.features,
                 "score: feature vector length, 1 to 131072, or a list (e.g. 16,256,4096): one row per size "
                 "(default 256)");
  auto* calls = app.add_option("--calls", o.calls, "timed calls per repetition, 1 to 1e9 (default: by --duration)");
  app.add_option("--duration", o.duration_s, "seconds of timed calls per repetition, up to 3600 (default 1, --quick 0.2)")
      ->excludes(calls);
  app.add_option("--warmup", o.warmup_s, "warmup seconds per row, up to 600 (default 0.5, --quick 0.05)");
  app.add_option("--repetitions", o.repetitions, "repetitions of the latency run, 1 to 1000 (default 3, --quick 1)");
  app.add_option("--throughput", o.throughput_s, "seconds of the throughput run, 0 to skip (default 0.5, --quick 0.1)");
  app.add_option("--inflight", o.inflight,
                 "calls in flight, a list (e.g. 1,8,64, each 1 to 1024): one row per K, every call timed from its "
                 "send to its reply under that load, calls/s from the same run. Default: one call at a time, "
                 "with a throughput run at 16 in flight beside it");
  app.add_option("--batch", o.batch,
                 "calls per message, a list (e.g. 1,10,100,1000, each 1 to 100000): one row per B, each message "
                 "carrying B calls and its reply B results, every one checked; the table adds the cost per call "
                 "(p50 / B). Default: single calls");
  app.add_option("--pin", o.pin, "auto|same|split|none: where harness and peer run")->capture_default_str();
  app.add_option("--codec", o.codec,
                 "raw, json, protobuf, or a list (e.g. raw,json,protobuf): one row per codec for every transport "
                 "that carries opaque bytes (unix, pipe, tcp, shm, redis, redis-stream, file); the others are "
                 "named once as not applicable. Default: each transport's own (rest json, grpc protobuf)");
  app.add_flag("--quick", o.quick, "short run: 0.2 s per row, 1 repetition");
  app.add_flag("--baseline", o.baseline,
               "also measure each row's floor: the same bytes sent to a peer that echoes them (peers/README.md)");
  app.add_flag("--normalize", o.normalize,
               "measure each row's floor beside it, interleaved, and let compare judge rows by row/floor, "
               "so runs on different machines (or moods) compare by shape");
  app.add_flag("--ci", o.ci,
               "the CI preset: one row per tier (C++ peer) with floors (--normalize), 12 repetitions of 0.1 s, "
               "each in a fresh process pair, interleaved; under 2 minutes. Options given with it win");
  app.add_option("--peer-fault", o.peer_fault,
                 "tests only: pass --fault=MODE to the rows' C++ peers (e.g. delay=NS, a busy wait per request; "
                 "peers/README.md)");
  app.add_option("--timeout", o.call_timeout_s, "seconds without a reply before a row fails, up to 3600")->capture_default_str();
  app.add_option("--ready-timeout", o.ready_timeout_s, "seconds a peer has to print READY, up to 3600")->capture_default_str();
  app.add_option("--shm-wait", o.shm_wait, "shm rows: spin, futex or both (default both)");
  app.add_option("--file-wait", o.file_wait, "file rows: inotify, poll or both (default both)");
  app.add_option("--redis", o.redis_url,
                 "use this Redis server (unix:///path or redis://host:port) instead of a private one");
  app.add_option("--out", o.out_dir, "write results.json, .md, .csv, gbench.json and peer logs here");
  app.add_flag("--list", list, "list every transport x peer and whether it can run here");
  std::string base_json, new_json;
  CompareOptions compare_options;
  std::string compare_format = "text";
  CLI::App* compare = app.add_subcommand(
      "compare",
      "compare two results.json files; exit 1 if a row got slower beyond noise, failed or vanished.\n"
      "With 4+ repetitions per side a row is slower only when the Mann-Whitney U test gives p < 0.05\n"
      "and its median moved more than --threshold.");
  compare->add_option("BASE", base_json, "the reference results.json")->required()->check(CLI::ExistingFile);
  compare->add_option("NEW", new_json, "the results.json to judge")->required()->check(CLI::ExistingFile);
  compare->add_option("--threshold", compare_options.threshold,
                      "the smallest change that counts (the minimum effect size), as a fraction, 0 to 1")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  bool compare_raw = false;
  auto* normalize_flag = compare->add_flag(
      "--normalize", compare_options.normalize,
      "judge rows by their p50 over their floor's (automatic when both runs used --normalize)");
  compare->add_flag("--raw", compare_raw,
                    "judge every row and floor by its own p50, even when both runs used --normalize")
      ->excludes(normalize_flag);
  compare->add_option("--format", compare_format, "text, or md for a pull-request comment")
      ->capture_default_str()
      ->check(CLI::IsMember({"text", "md"}));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    if (list) {
      std::cout << RenderTransportList();
      return 0;
    }
    return compare->parsed() ? Compare(base_json, new_json, compare_options, compare_raw, compare_format)
                             : Bench(o, JoinArgs(argc, argv));
  } catch (const interop::UsageError& e) {
    std::fprintf(stderr, "bench: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench: %s\n", e.what());
    return 1;
  }
}
