#include "bench/runner.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "bench/measure.h"
#include "bench/peer_process.h"
#include "bench/process_guard.h"
#include "bench/reference.h"
#include "bench/row_run.h"
#include "bench/services.h"
#include "transports/codec/codec.h"
#include "bench/summarize.h"
#include "common/fd_io.h"
#include "common/paths.h"
#include "common/workload.h"

namespace interop {
namespace {

using Clock = std::chrono::steady_clock;

// wrk beside an HTTP row: the row's own request for call 1, at the row's
// peer, on the row's caller's core, for about a repetition's length.
WrkTarget WrkTargetOf(const RowSpec& spec, const RunSettings& s, const RunContext& ctx, const PeerEndpoint& peer) {
  WrkTarget t;
  const auto sample = MakeSampleMessage(s, spec.batch, 1);  // a batch row's batch
  spec.transport->http_request(sample->request, &t.path, &t.body);
  t.address = peer.address;
  t.cpu = PlacementOf(*spec.transport, ctx).caller_cpu;
  t.seconds = std::max(1, static_cast<int>(s.duration_s + 0.5));
  t.connections = std::max(1, spec.inflight);  // a row under load: wrk -cK beside it
  t.script_path = ctx.run_dir + "/" + RowTag(spec) + "-wrk.lua";
  t.log_path = ctx.log_dir + "/" + RowTag(spec) + "-wrk.log";
  return t;
}

// Sets up the row, opens the transport, measures, and takes it all down (the
// row run closes the transport). Whatever goes wrong ends up in the
// measurement's failure.
Measurement MeasureInThisProcess(const RowSpec& spec, const RunSettings& s, const RunContext& ctx) {
  Measurement m;
  const ClientMode mode = spec.role == RowRole::kFloor ? ClientMode::kEcho : ClientMode::kCall;
  // The row's codec; in-process rows have none ("none"), and take the default.
  const Codec codec = CodecOf(spec);
  std::unique_ptr<Transport> transport = spec.transport->make_client(spec.peer, mode, codec);  // constructs only
  try {
    RowRun run(spec, s, ctx, *transport);
    try {
      transport->Open(run.endpoint());
      run.Opened();
      MeasureContext mc{.settings = &s,
                        .role = spec.role,
                        .in_process = spec.transport->wait_style == WaitStyle::kInProcess,
                        .inflight = spec.inflight,
                        .batch = spec.batch,
                        .watchdog = &run.watchdog(),
                        .peer_cpu = run.peer_cpu(),
                        .broker_cpu = run.broker_cpu()};
      if (spec.with_reference) {
        const WrkTarget target = WrkTargetOf(spec, s, ctx, run.endpoint());
        mc.reference = [target] { return RunWrk(target); };
        mc.reference_s = target.seconds;
      }
      MeasureCalls(*transport, mc, m);
    } catch (const std::exception& e) {  // TransportError mostly; anything else fails the row too
      m.failure = run.DescribeFailure(e.what());
    }
  } catch (const RowSetupError& e) {
    m.failure = e.what();
  } catch (const std::exception& e) {  // e.g. no thread for the watchdog: this row fails, the run goes on
    m.failure = std::string("cannot set the row up: ") + e.what();
  }
  return m;
}

// In-process rows run in a forked child: a crash inside an embedded
// interpreter fails the row, not the harness. The child measures exactly as
// the harness would and hands the raw measurement back on a pipe; its stderr
// goes to the row's log.
Measurement MeasureInChild(const RowSpec& spec, const RunSettings& s, const RunContext& ctx) {
  Measurement m;
  const std::string log_path = ctx.log_dir + "/" + RowTag(spec) + ".stderr.log";
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    m.failure = ErrnoMessage("pipe2");
    return m;
  }
  const pid_t parent = ::getpid();
  const pid_t child = ::fork();
  if (child == 0) {
    ::close(fds[0]);
    if (!BecomeGuardedChild(parent)) _exit(127);
    const int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (log >= 0) ::dup2(log, STDERR_FILENO);
    // Nothing may leave this block: an exception unwinding into the child's
    // copy of main() would run the parent's destructors here (and remove the
    // parent's run dir). Every way out is _exit.
    try {
      const std::string bytes = EncodeMeasurement(MeasureInThisProcess(spec, s, ctx));
      _exit(WriteFull(fds[1], bytes.data(), bytes.size()) ? 0 : 1);
    } catch (...) {
      const char msg[] = "the row's child failed outside the measurement\n";
      (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
      _exit(1);
    }
  }
  ::close(fds[1]);
  if (child < 0) {
    ::close(fds[0]);
    m.failure = ErrnoMessage("fork");
    return m;
  }
  GuardProcessGroup(child);
  // Read the child's result with a deadline: the whole row must finish in time.
  const double budget_s = s.ready_timeout_s + s.warmup_s + s.throughput_s + s.call_timeout_s +
                          s.repetitions * (s.calls > 0 ? 60.0 : s.duration_s * 3 + 5);
  const auto deadline = Clock::now() + std::chrono::duration<double>(budget_s);
  std::string bytes;
  char buf[65536];
  bool out_of_time = false;
  for (;;) {
    const auto left = std::chrono::duration<double, std::milli>(deadline - Clock::now()).count();
    if (left <= 0) {
      ::kill(-child, SIGKILL);
      out_of_time = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    const ssize_t r = ::read(fds[0], buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    bytes.append(buf, static_cast<std::size_t>(r));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  ::kill(-child, SIGKILL);
  UnguardProcessGroup(child);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !bytes.empty()) {
    try {
      return DecodeMeasurement(bytes);
    } catch (const std::exception& e) {
      m.failure = std::string("unreadable measurement from the row's child: ") + e.what();
      return m;
    }
  }
  std::string why = WIFEXITED(status) && WEXITSTATUS(status) == kStalledExit
                        ? "no progress within " + std::to_string(static_cast<int>(s.call_timeout_s)) + " s"
                        : "the row's child process " + DescribeWaitStatus(status);
  if (out_of_time) why = "the row did not finish within " + std::to_string(static_cast<int>(budget_s)) + " s";
  if (Interrupted()) why = "interrupted";
  m.failure = why + "; stderr: " + FileTail(log_path, 5);
  return m;
}

}  // namespace

Placement PlacementOf(const TransportSpec& t, const RunContext& ctx) {
  const bool private_broker = t.needs_redis && ctx.services && !ctx.services->RedisIsExternal();
  return ctx.pinning->For(t.wait_style, private_broker);
}

namespace {

// Where the row's broker ran, for the note: the JSON has the CPUs.
std::string BrokerNote(const TransportSpec& t, const RunContext& ctx, const Placement& place) {
  if (!t.needs_redis) return {};
  if (ctx.services && ctx.services->RedisIsExternal()) {
    return "broker: an external Redis (--redis), neither placed nor counted";
  }
  if (place.broker_cpu < 0) return "broker: the private redis-server, not pinned";
  std::string where = "broker: the private redis-server on CPU " + std::to_string(place.broker_cpu);
  if (place.broker_cpu == place.caller_cpu && place.broker_cpu == place.peer_cpu) return where + ", with both sides";
  if (place.broker_cpu == place.caller_cpu) return where + ", the caller's";
  if (place.broker_cpu == place.peer_cpu) return where + ", the peer's";
  return where + ", a core of its own";
}

}  // namespace

std::string RowTag(const RowSpec& spec) {
  return std::string(spec.transport->name) + "-" + std::string(PeerName(spec.peer)) +
         (spec.inflight > 0 ? "-k" + std::to_string(spec.inflight) : std::string()) +
         (spec.batch > 0 ? "-b" + std::to_string(spec.batch) : std::string()) +
         (spec.role == RowRole::kFloor ? "-floor" : "");
}

std::string PeerUnavailableReason(PeerKind peer, const TransportSpec& transport) {
  namespace fs = std::filesystem;
  const bool in_process = transport.wait_style == WaitStyle::kInProcess;
  switch (peer) {
    case PeerKind::kCpp:
      if (!in_process && ::access((BinaryDir() + "/peers/cpp/cpp_peer").c_str(), X_OK) != 0) {
        return "the C++ peer is not built (" + BinaryDir() + "/peers/cpp/cpp_peer)";
      }
      return {};
    case PeerKind::kPython:
      if (::access(kPythonInterpreter, X_OK) != 0) return std::string(kPythonInterpreter) + " not found";
      if (!fs::exists(SourceDir() + "/peers/python/peer.py")) return "peers/python/peer.py not found";
      return {};
    case PeerKind::kRuby:
      if (::access("/usr/bin/ruby", X_OK) != 0) return "/usr/bin/ruby not found (apt-get install ruby)";
      if (!fs::exists(SourceDir() + "/peers/ruby/peer.rb")) return "peers/ruby/peer.rb not found";
      return {};
  }
  return "unknown peer";
}

int MostInFlight(const RowSpec& spec, const RunSettings& s) {
  if (spec.inflight > 0) return spec.inflight;
  return spec.role == RowRole::kRow && s.throughput_s > 0 ? s.inflight : 1;
}

std::vector<std::string> PeerCommand(PeerKind peer, const RowSpec& spec, const std::string& address, int inflight) {
  std::vector<std::string> argv;
  switch (peer) {
    case PeerKind::kCpp: argv = {BinaryDir() + "/peers/cpp/cpp_peer"}; break;
    case PeerKind::kPython: argv = {kPythonInterpreter, SourceDir() + "/peers/python/peer.py"}; break;
    case PeerKind::kRuby: argv = {"/usr/bin/ruby", SourceDir() + "/peers/ruby/peer.rb"}; break;
  }
  argv.push_back("--transport=" + std::string(spec.transport->name));
  argv.push_back("--address=" + address);
  if (spec.codec != spec.transport->default_codec) argv.push_back("--codec=" + spec.codec);
  if (spec.role == RowRole::kFloor) argv.push_back("--echo");
  // So a peer can size what it must (Ruby's gRPC pool refuses calls beyond its size).
  if (inflight > 1) argv.push_back("--inflight=" + std::to_string(inflight));
  argv.insert(argv.end(), spec.extra_peer_args.begin(), spec.extra_peer_args.end());
  return argv;
}

std::string CannotRunReason(const RowSpec& spec, const RunContext& context) {
  if (std::string why = PeerUnavailableReason(spec.peer, *spec.transport); !why.empty()) return why;
  if (spec.transport->wait_style == WaitStyle::kSpinning && context.pinning->cores() < 2) {
    return "a spinning wait needs two cores, this machine has one";
  }
  return {};
}

Measurement MeasurePass(const RowSpec& spec, const RunSettings& run_settings, const RunContext& context) {
  const RunSettings settings = RowSettings(spec, run_settings);  // the row's own features
  return spec.transport->wait_style == WaitStyle::kInProcess ? MeasureInChild(spec, settings, context)
                                                             : MeasureInThisProcess(spec, settings, context);
}

RunSettings PassSettings(const RunSettings& s, int pass, const Measurement& so_far) {
  RunSettings one = s;
  one.repetitions = 1;
  if (pass + 1 < s.repetitions) one.throughput_s = 0;
  if (pass > 0) one.calls_per_sample = so_far.calls_per_sample;  // 1 too: only in-process rows batch
  return one;
}

void AppendPass(Measurement& row, Measurement pass) {
  if (row.repetitions.empty()) row.calls_per_sample = pass.calls_per_sample;
  for (auto& r : pass.repetitions) row.repetitions.push_back(std::move(r));
  row.errors += pass.errors;
  if (row.first_error.empty()) row.first_error = std::move(pass.first_error);
  if (pass.inflight > 0) {
    row.calls_per_s = pass.calls_per_s;
    row.inflight = pass.inflight;
  }
  if (row.failure.empty()) row.failure = std::move(pass.failure);
  for (auto& r : pass.reference_runs) row.reference_runs.push_back(std::move(r));
  if (row.reference_error.empty()) row.reference_error = std::move(pass.reference_error);
}

RowResult ResultOf(const RowSpec& spec, const RunSettings& settings, const RunContext& context,
                   const Measurement& m, int passes) {
  RowResult r;
  r.id = IdOf(spec, settings);  // the row's own size, if --features gave it one
  r.tier = std::string(spec.transport->tier);
  r.placement = PlacementOf(*spec.transport, context);
  r.bytes_counted = std::string(spec.transport->bytes_counted);
  auto add_note = [&r](const std::string& note) {
    if (!note.empty()) r.note += (r.note.empty() ? "" : "; ") + note;
  };
  add_note(spec.note);
  add_note(BrokerNote(*spec.transport, context, r.placement));
  Summarize(m, r);
  // Stopped by Ctrl-C or SIGTERM while it ran: not a failure of the row, and
  // nothing it measured is kept (RunPlan says which signal).
  if (!Ok(r) && Interrupted()) {
    RowResult cut;
    cut.id = r.id;
    cut.tier = r.tier;
    cut.placement = r.placement;
    cut.status = RowStatus::kInterrupted;
    cut.reason = "the run was stopped by " + SignalName(InterruptSignal()) + " while this row ran; what it had "
                 "measured is not kept";
    return cut;
  }
  if (Ok(r) && passes < settings.repetitions) {
    const bool lost_throughput = spec.role == RowRole::kRow && settings.throughput_s > 0;
    add_note(std::to_string(passes) + " of " + std::to_string(settings.repetitions) +
             " repetitions: the run was interrupted" + (lost_throughput ? ", before the throughput run" : ""));
  }
  return r;
}

RowResult RunRow(const RowSpec& spec, const RunSettings& settings, const RunContext& context) {
  if (const std::string why = CannotRunReason(spec, context); !why.empty()) {
    RowResult r = ResultOf(spec, settings, context, Measurement{}, settings.repetitions);
    r.status = RowStatus::kFailed;
    r.reason = "cannot run here: " + why;
    return r;
  }
  return ResultOf(spec, settings, context, MeasurePass(spec, settings, context), settings.repetitions);
}

}  // namespace interop
