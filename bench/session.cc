#include "bench/session.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <random>

#include "bench/environment.h"
#include "bench/floors.h"
#include "bench/reference.h"
#include "bench/measure.h"
#include "bench/process_guard.h"
#include "bench/progress.h"
#include "bench/runner.h"
#include "bench/services.h"
#include "common/temp_dir.h"
#include "transports/shm/shm_segment.h"

namespace interop {
namespace {

// The peers' stderr logs: in --out's logs/ when given (kept), else in the run dir.
std::string MakeLogDir(const std::string& out_dir, const std::string& run_dir) {
  const std::string dir = (out_dir.empty() ? run_dir : out_dir) + "/logs";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw UsageError("cannot create " + dir + ": " + ec.message());
  return dir;
}

nlohmann::ordered_json SettingsJson(const RunSettings& s) {
  return {{"workload", s.op == Op::kAdd ? "add" : "score"}, {"features", s.features}, {"calls", s.calls},
          {"duration_s", s.duration_s}, {"warmup_s", s.warmup_s}, {"repetitions", s.repetitions},
          {"throughput_s", s.throughput_s}, {"throughput_inflight", s.inflight}, {"call_timeout_s", s.call_timeout_s},
          {"normalize", s.normalize}, {"peer_fault", s.peer_fault.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(s.peer_fault)}};
}

// A floor that came out above its row: both again, alternating, in fresh
// process pairs (one repetition each, no throughput run), so the cause can be
// told from measurements rather than guessed (bench/floors.cc).
void Recheck(const RowSpec& floor_spec, const RunSettings& s, const RunContext& ctx, Progress& progress,
             RowResult& floor) {
  progress.Note("  re-measuring " + std::string(floor_spec.transport->name) + " / " +
                std::string(PeerName(floor_spec.peer)) + " and its floor in fresh process pairs: the floor came out "
                "above it");
  const RowSpec row_spec = [&floor_spec] {
    RowSpec row = floor_spec;
    row.role = RowRole::kRow;
    return row;
  }();
  RunSettings once = s;
  once.repetitions = 1;
  once.throughput_s = 0;
  for (int pair = 0; pair < kRecheckPairs && !Interrupted(); ++pair) {
    for (const RowSpec* spec : {&floor_spec, &row_spec}) {
      const RowResult r = RunRow(*spec, once, ctx);
      if (!Ok(r) || r.calls == 0) continue;
      (spec->role == RowRole::kFloor ? floor.recheck_floor_p50_ns : floor.recheck_row_p50_ns).push_back(r.latency_ns.p50);
    }
  }
  floor.recheck_interrupted = Interrupted();
}

// Every planned row, its repetitions measured in passes (bench/runner.h):
// pass 1 over every row in plan order, then pass 2, and so on, so that a
// slow phase of the machine falls on every row alike. A row that fails
// drops out of later passes. Results in plan order; a row the run never got
// to (interrupted) has an empty identity.
std::vector<RowResult> MeasureInterleaved(const Plan& plan, const RunContext& ctx, Progress& progress) {
  const RunSettings& s = plan.settings;
  struct InProgress {
    Measurement measured;
    int passes = 0;
    bool finished = false;
  };
  std::vector<InProgress> rows(plan.rows.size());
  std::vector<RowResult> results(plan.rows.size());
  int runnable = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (!CannotRunReason(plan.rows[i], ctx).empty()) {
      results[i] = RunRow(plan.rows[i], s, ctx);  // fails at once, saying why
      rows[i].finished = true;
    } else {
      ++runnable;
    }
  }
  progress.Start(static_cast<int>(rows.size()), runnable * s.repetitions);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (rows[i].finished) progress.RowFinished(results[i]);
  }
  for (int pass = 0; pass < s.repetitions && !Interrupted(); ++pass) {
    for (std::size_t i = 0; i < rows.size() && !Interrupted(); ++i) {
      InProgress& row = rows[i];
      if (row.finished) continue;
      const RowSpec& spec = plan.rows[i];
      progress.Begin(pass, s.repetitions, IdOf(spec, s).Key());
      Measurement m = MeasurePass(spec, PassSettings(s, pass, row.measured), ctx);
      const bool failed = !m.failure.empty() || m.errors > 0;
      if (Interrupted() && failed) {
        // Cut by the signal: this pass is not kept. A row with no pass
        // before it is the run's cut row (status interrupted).
        if (row.passes == 0) results[i] = ResultOf(spec, s, ctx, m, 0);
        break;
      }
      AppendPass(row.measured, std::move(m));
      ++row.passes;
      progress.StepDone();
      if (failed || row.passes == s.repetitions) {
        row.finished = true;
        progress.Skip(s.repetitions - row.passes);  // a failed row's later passes will not run
        results[i] = ResultOf(spec, s, ctx, row.measured, row.passes);
        progress.RowFinished(results[i]);
      }
    }
  }
  // Rows the interrupt left with some of their passes: kept, and saying so.
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].finished && rows[i].passes > 0) {
      results[i] = ResultOf(plan.rows[i], s, ctx, rows[i].measured, rows[i].passes);
    }
  }
  return results;
}

}  // namespace

Report RunPlan(const Plan& plan, const std::string& command_line) {
  if (const int stale = RemoveStaleTempDirs() + shm::RemoveStaleSegments(); stale > 0) {
    std::fprintf(stderr, "removed %d temp dir(s) or shm segment(s) left by earlier runs that were killed\n", stale);
  }
  TempDir run_dir;
  const std::string log_dir = MakeLogDir(plan.out_dir, run_dir.path());

  const std::string run_id = std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}() % 0x10000);
  Services services(run_dir.path(), run_id, log_dir, plan.redis_url);
  Pinning pinning(plan.pin);  // the CPUs this process may use, as the kernel says
  // Calls through the broker are calibrated only when a row has a broker of ours to place.
  const bool broker_rows = plan.redis_url.empty() && std::any_of(plan.rows.begin(), plan.rows.end(), [](const RowSpec& r) {
                             return r.transport->needs_redis;
                           });
  Pinning::BrokerRoundTrip broker_round_trip;
  if (broker_rows) {
    broker_round_trip = [&services](int caller, int peer, int broker) {
      return services.BrokerRoundTripP50(caller, peer, broker, 1000);
    };
  }
  pinning.Calibrate(broker_round_trip);
  Report report;
  report.environment = CaptureEnvironment(command_line);
  report.environment["timer_overhead_ns"] = TimerOverheadNs();
  report.environment["pinning"] = pinning.Describe();
  report.environment["settings"] = SettingsJson(plan.settings);
  // --codec=LIST: the transports that could not carry a listed codec, named once.
  if (!plan.not_applicable.empty()) report.environment["not_applicable"] = plan.not_applicable;
  std::printf("interop-spectrum bench: %s, %s\n%s\ntimer overhead %.0f ns per clock pair\n\n",
              report.environment["cpu_model"].get<std::string>().c_str(),
              report.environment["git_commit"].get<std::string>().c_str(), pinning.Describe().c_str(),
              report.environment["timer_overhead_ns"].get<double>());
  std::fflush(stdout);

  report.environment["interleaving"] =
      "each repetition in a pass of its own, in a fresh process pair; passes round robin over the rows in plan "
      "order, the throughput run in the last pass";

  const RunContext context{run_dir.path(), log_dir, &pinning, run_id, &services};
  Progress progress;
  const std::vector<RowResult> results = MeasureInterleaved(plan, context, progress);
  progress.Finish();  // what follows (re-measuring floors) prints notes only
  for (std::size_t i = 0; i < results.size(); ++i) {
    const RowSpec& spec = plan.rows[i];
    RowResult result = results[i];
    if (result.id.transport.empty()) continue;  // never started: the run was interrupted first
    if (spec.with_reference && result.status != RowStatus::kInterrupted) {
      RowResult reference = ReferenceRowOf(result);
      report.rows.push_back(std::move(result));
      report.rows.push_back(std::move(reference));
      continue;
    }
    if (spec.role == RowRole::kFloor && !Interrupted()) {
      const RowId row_id = result.id.WithRole(RowRole::kRow);
      for (const RowResult& row : report.rows) {
        if (row.id == row_id && AboveRowBeyondSpread(row, result)) Recheck(spec, plan.settings, context, progress, result);
      }
    }
    report.rows.push_back(std::move(result));
  }
  services.Shutdown();
  if (Interrupted()) {
    report.interrupted = true;
    report.interrupted_by = SignalName(InterruptSignal());
    for (const RowSpec& spec : plan.rows) {
      const RowId id = IdOf(spec, plan.settings);
      if (std::none_of(report.rows.begin(), report.rows.end(), [&id](const RowResult& r) { return r.id == id; })) {
        report.not_run.push_back(id.Key());
      }
    }
  }
  return report;
}

}  // namespace interop
