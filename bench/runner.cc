#include "bench/runner.h"

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "bench/peer_process.h"
#include "bench/process_guard.h"
#include "bench/report.h"
#include "bench/services.h"
#include "bench/watchdog.h"
#include "common/fd_io.h"
#include "common/paths.h"
#include "common/workload.h"

namespace interop {
namespace {

using Clock = std::chrono::steady_clock;

inline double NsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::nano>(b - a).count();
}

double ThreadCpuNs() {
  timespec ts;
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

// CPU time of every thread of a process, from /proc/PID/task/*/schedstat (ns).
double ProcessCpuNs(pid_t pid) {
  double total = 0;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(
           "/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream in(task.path() / "schedstat");
    double on_cpu_ns = 0;
    if (in >> on_cpu_ns) total += on_cpu_ns;
  }
  return total;
}

// Makes the requests of a row and checks every reply against the C++ reference.
class Workload {
 public:
  explicit Workload(const RunSettings& s) : op_(s.op), model_(s.model) {
    if (op_ == Op::kScore) {
      features_ = RampFeatures(s.features);
      const ScoreResult r = Score(features_);
      expected_score_ = r.score;
      expected_label_ = std::string(r.label);
    }
  }

  void Fill(Request& r, uint64_t id) const {
    r.id = id;
    r.op = op_;
    if (op_ == Op::kAdd) {
      // Spread over the whole int64 range, so wrapping sums are exercised too.
      r.x = static_cast<int64_t>(id * 0x9E3779B97F4A7C15ULL);
      r.y = static_cast<int64_t>(id ^ 0x5DEECE66DULL) * 7919;
    } else {
      r.features = features_;
      r.model = model_;
    }
  }

  // Empty if the reply is right; otherwise what is wrong with it.
  std::string Check(const Request& req, const Reply& rep) const {
    if (!rep.error.empty()) return rep.error;
    if (rep.id != req.id) {
      return "reply id " + std::to_string(rep.id) + " for request id " + std::to_string(req.id);
    }
    if (op_ == Op::kAdd) {
      const int64_t want = Add(req.x, req.y);
      if (rep.result != want) {
        return "id " + std::to_string(req.id) + ": add result " + std::to_string(rep.result) +
               ", expected " + std::to_string(want);
      }
    } else if (std::memcmp(&rep.score, &expected_score_, sizeof(double)) != 0 ||
               rep.label != expected_label_) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "id %llu: score %.17g '%s', expected %.17g '%s'",
                    static_cast<unsigned long long>(req.id), rep.score, rep.label.c_str(),
                    expected_score_, expected_label_.c_str());
      return buf;
    }
    return {};
  }

 private:
  Op op_;
  std::string model_;
  std::vector<double> features_;
  double expected_score_ = 0;
  std::string expected_label_;
};

// Keeps Google Benchmark's per-repetition results instead of printing them.
class CaptureReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      if (r.run_type == Run::RT_Iteration) this->runs.push_back(r);
    }
  }
  std::vector<Run> runs;
};

// Measures one row against an open transport. `peer_pid` (or -1) is for CPU
// accounting. Throws TransportError when the peer stops answering.
class RowMeasurement {
 public:
  // first_error receives the text of the first wrong reply (kept even when
  // Run() throws, so a row that fails later still says what went wrong first).
  RowMeasurement(Transport& transport, const RunSettings& settings, Watchdog& watchdog,
                 RowResult& result, pid_t peer_pid, bool in_process, std::string& first_error)
      : t_(transport), s_(settings), dog_(watchdog), out_(result), workload_(settings),
        peer_pid_(peer_pid), in_process_(in_process), first_error_(first_error) {}

  void Run() {
    const double est_ns = Warmup();
    // In-process calls are too short to time one by one (reading the clock
    // costs tens of ns): time batches of B calls lasting ~2 us each instead.
    uint64_t batch = 1;
    if (in_process_) batch = std::clamp<uint64_t>(static_cast<uint64_t>(2000 / std::max(est_ns, 1.0)), 1, 4096);
    out_.batch = batch;
    LatencyRun(TimedIterations(s_, est_ns, batch), batch);
    if (s_.throughput_s > 0) ThroughputRun();
  }

 private:
  // Checks a reply; a wrong one is counted and its text kept (first only).
  bool Accept(const Request& req, const Reply& rep) {
    std::string why = workload_.Check(req, rep);
    if (why.empty()) return true;
    ++out_.errors;
    if (first_error_.empty()) first_error_ = std::move(why);
    return false;
  }

  // Calls until warmup_s has passed (at least 10 calls); returns the mean ns
  // per call (and keeps it: the throughput run sizes its watchdog with it).
  double Warmup() {
    Request req;
    Reply rep;
    const auto start = Clock::now();
    uint64_t n = 0;
    while (n < 10 || NsBetween(start, Clock::now()) < s_.warmup_s * 1e9) {
      workload_.Fill(req, next_id_++);
      t_.Call(req, rep);
      dog_.Beat();
      Accept(req, rep);
      ++n;
      if (Interrupted()) throw TransportError("interrupted");
    }
    est_ns_ = NsBetween(start, Clock::now()) / static_cast<double>(n);
    return est_ns_;
  }

  void LatencyRun(uint64_t iterations, uint64_t batch) {
    std::vector<double> samples;
    samples.reserve(iterations * static_cast<uint64_t>(s_.repetitions));
    std::vector<Request> reqs(batch);
    std::vector<Reply> reps(batch);
    std::string failure;
    const std::string name = out_.transport + "/" + out_.peer + "/" + out_.workload;
    std::vector<double> rep_p50;

    const double cpu0 = ThreadCpuNs();
    const double peer_cpu0 = peer_pid_ > 0 ? ProcessCpuNs(peer_pid_) : 0;
    uint64_t timed_calls = 0;
    benchmark::RegisterBenchmark(name.c_str(), [&](benchmark::State& state) {
      const std::size_t first_sample = samples.size();
      for (auto _ : state) {
        for (uint64_t b = 0; b < batch; ++b) workload_.Fill(reqs[b], next_id_++);
        try {
          const auto t0 = Clock::now();
          for (uint64_t b = 0; b < batch; ++b) t_.Call(reqs[b], reps[b]);
          const auto t1 = Clock::now();
          dog_.Beat();
          bool all_ok = true;
          for (uint64_t b = 0; b < batch; ++b) all_ok &= Accept(reqs[b], reps[b]);
          // A wrong reply is counted, never timed as if it were a call.
          if (all_ok) samples.push_back(NsBetween(t0, t1) / static_cast<double>(batch));
          timed_calls += batch;
        } catch (const TransportError& e) {
          failure = e.what();
          state.SkipWithError(failure.c_str());
          break;
        }
      }
      std::vector<double> mine(samples.begin() + static_cast<std::ptrdiff_t>(first_sample), samples.end());
      const double p50 = Summarize(std::move(mine)).p50;
      state.counters["p50_ns"] = p50;
      rep_p50.push_back(p50);
    })
        ->Iterations(static_cast<benchmark::IterationCount>(iterations))
        ->Repetitions(s_.repetitions)
        ->UseRealTime()
        ->Unit(benchmark::kNanosecond);
    CaptureReporter capture;
    benchmark::RunSpecifiedBenchmarks(&capture);
    benchmark::ClearRegisteredBenchmarks();

    if (timed_calls > 0) {
      out_.harness_cpu_ns_per_call = (ThreadCpuNs() - cpu0) / static_cast<double>(timed_calls);
      if (peer_pid_ > 0) {
        out_.peer_cpu_ns_per_call = (ProcessCpuNs(peer_pid_) - peer_cpu0) / static_cast<double>(timed_calls);
      }
    }
    for (std::size_t i = 0; i < capture.runs.size(); ++i) {
      const auto& r = capture.runs[i];
      out_.repetitions.push_back({static_cast<uint64_t>(r.iterations), r.real_accumulated_time,
                                  r.cpu_accumulated_time, i < rep_p50.size() ? rep_p50[i] : 0});
    }
    if (!failure.empty()) throw TransportError(failure);
    out_.calls = samples.size() * batch;
    out_.stability_spread = MedianSpread(samples, 5);
    out_.latency_ns = Summarize(std::move(samples));
  }

  void ThroughputRun() {
    const std::size_t k = static_cast<std::size_t>(std::max(1, s_.inflight));
    std::vector<Request> reqs(k);
    std::vector<Reply> reps(k);
    // A transport that cannot overlap calls does the K one after another: give
    // a round K times the time of one call (with a wide margin) before the
    // watchdog may call the peer stalled.
    dog_.SetTimeout(s_.call_timeout_s + 4 * static_cast<double>(k) * est_ns_ / 1e9);
    uint64_t done = 0;
    const auto start = Clock::now();
    double elapsed_ns = 0;
    do {
      for (auto& r : reqs) workload_.Fill(r, next_id_++);
      t_.CallPipelined(reqs, reps);
      dog_.Beat();
      for (std::size_t i = 0; i < k; ++i) Accept(reqs[i], reps[i]);
      done += k;
      elapsed_ns = NsBetween(start, Clock::now());
    } while (elapsed_ns < s_.throughput_s * 1e9 && !Interrupted());
    out_.inflight = static_cast<int>(k);
    out_.calls_per_s = static_cast<double>(done) / (elapsed_ns / 1e9);
  }

 private:
  Transport& t_;
  const RunSettings& s_;
  Watchdog& dog_;
  RowResult& out_;
  Workload workload_;
  pid_t peer_pid_;
  bool in_process_;
  uint64_t next_id_ = 1;
  double est_ns_ = 0;  // mean ns per call in the warmup
  std::string& first_error_;
};

}  // namespace

RowResult BlankResult(const RowSpec& spec, const RunSettings& s, const std::string& pin) {
  RowResult r;
  r.transport = std::string(spec.transport->name);
  r.tier = std::string(spec.transport->tier);
  r.peer = std::string(PeerName(spec.peer));
  r.workload = s.op == Op::kAdd ? "add" : "score";
  r.features = s.op == Op::kScore ? s.features : 0;
  r.codec = spec.echo ? "echo" : (spec.codec.empty() ? std::string(spec.transport->default_codec) : spec.codec);
  r.pin = pin;
  r.is_baseline = spec.echo;
  return r;
}

PeerLaunch MakePeerLaunch(std::shared_ptr<void>* resources, const RowSpec& spec, const RunSettings& s,
                          const RunContext& ctx, int peer_cpu, const std::string& tag) {
  PeerLaunch launch;
  AddressContext where{ctx.run_dir, tag, ctx.run_id, ""};
  if (spec.transport->needs_redis) where.redis_url = ctx.services->RedisUrl();  // may throw ServiceError
  std::string address;
  if (spec.transport->prepare) {
    where.wait_spinning_apart = peer_cpu >= 0 && peer_cpu != ctx.pinning->For(spec.transport->wait_style).harness_cpu;
    *resources = spec.transport->prepare(where, &address);  // may throw TransportError
  } else {
    address = spec.transport->listen_address(where);
  }
  launch.argv = PeerCommand(spec.peer, spec, address);
  launch.stdio_channel = spec.transport->peer_uses_stdio;
  launch.cpu = peer_cpu;
  launch.log_path = ctx.log_dir + "/" + tag + ".stderr.log";
  launch.ready_timeout_s = s.ready_timeout_s;
  // Where the Python and Ruby peers find the code generated from interop.proto.
  launch.env = {"INTEROP_GENERATED_DIR=" + BinaryDir() + "/generated", "PYTHONDONTWRITEBYTECODE=1"};
  return launch;
}

namespace {

void Fail(RowResult& r, std::string reason) {
  r.status = "failed";
  r.reason = std::move(reason);
}

void FinishErrors(RowResult& r, const std::string& first_error) {
  if (r.status == "ok" && r.errors > 0) {
    Fail(r, std::to_string(r.errors) + " wrong or error replies; first: " + first_error);
  }
  // Nanobench's rule of thumb: a figure that moves by more than 5% is flagged.
  r.unstable = r.stability_spread > 0.05;
}

// Out-of-process rows: start the peer, connect, measure, stop the peer.
RowResult RunWithPeerProcess(const RowSpec& spec, const RunSettings& s, const RunContext& ctx,
                             const Placement& place) {
  RowResult result = BlankResult(spec, s, place.label);
  PeerLaunch launch;
  std::shared_ptr<void> resources;  // declared before the peer: released after it stops
  try {
    launch = MakePeerLaunch(&resources, spec, s, ctx, place.peer_cpu, result.transport + "-" + result.peer);
  } catch (const ServiceError& e) {
    Fail(result, std::string("service unavailable: ") + e.what());
    return result;
  } catch (const TransportError& e) {
    Fail(result, std::string("cannot prepare the row: ") + e.what());
    return result;
  }

  PinCurrentThread(place.harness_cpu);
  std::optional<PeerProcess> peer;
  try {
    peer.emplace(launch);
  } catch (const PeerError& e) {
    Fail(result, std::string("peer did not start: ") + e.what());
    PinCurrentThread(-1);
    return result;
  }
  std::unique_ptr<Transport> transport = spec.transport->make_client(spec.peer);  // constructs only
  std::string first_error;
  {
    Watchdog dog(s.call_timeout_s, [&peer, &transport] {
      peer->Kill();
      transport->Abort();
    }, Interrupted);
    try {
      transport->Open(peer->endpoint());
      RowMeasurement(*transport, s, dog, result, peer->pid(), /*in_process=*/false, first_error).Run();
    } catch (const std::exception& e) {  // TransportError mostly; anything else fails the row too
      std::string why = e.what();
      if (dog.fired()) {
        why = "no reply within " + std::to_string(static_cast<int>(s.call_timeout_s)) +
              " s; the peer was killed";
      } else if (Interrupted()) {
        why = "interrupted";
      }
      Fail(result, why + "; peer " + peer->DescribeExit(1.0) + "; stderr: " + peer->StderrTail(5));
    }
  }
  transport->Close();
  peer->Stop();
  PinCurrentThread(-1);
  FinishErrors(result, first_error);
  return result;
}

// In-process rows run in a forked child, so a crash inside an embedded
// interpreter fails the row, not the harness. The child sends its result back
// as JSON on a pipe; its stderr goes to the row's log.
constexpr int kStalledExit = 86;

RowResult RunInForkedChild(const RowSpec& spec, const RunSettings& s, const RunContext& ctx,
                           const Placement& place) {
  RowResult result = BlankResult(spec, s, place.label);
  const std::string log_path = ctx.log_dir + "/" + result.transport + "-" + result.peer + ".stderr.log";
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    Fail(result, ErrnoMessage("pipe2"));
    return result;
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
    PinCurrentThread(place.harness_cpu);
    RowResult r = BlankResult(spec, s, place.label);
    std::string first_error;
    try {
      std::unique_ptr<Transport> transport = spec.transport->make_client(spec.peer);
      transport->Open(PeerEndpoint{});
      Watchdog dog(s.call_timeout_s, [] {
        const char msg[] = "in-process call made no progress; giving up\n";
        (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
        _exit(kStalledExit);
      });
      RowMeasurement(*transport, s, dog, r, -1, /*in_process=*/true, first_error).Run();
    } catch (const std::exception& e) {
      Fail(r, e.what());
    }
    FinishErrors(r, first_error);
    const std::string text = DumpJson(RowToJson(r));
    WriteFull(fds[1], text.data(), text.size());
    _exit(0);
    } catch (...) {
      const char msg[] = "the row's child failed outside the measurement\n";
      (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
      _exit(1);
    }
  }
  ::close(fds[1]);
  if (child < 0) {
    ::close(fds[0]);
    Fail(result, ErrnoMessage("fork"));
    return result;
  }
  GuardProcessGroup(child);
  // Read the child's result with a deadline: the whole row must finish in time.
  const double budget_s = s.ready_timeout_s + s.warmup_s + s.throughput_s + s.call_timeout_s +
                          s.repetitions * (s.calls > 0 ? 60.0 : s.duration_s * 3 + 5);
  const auto deadline = Clock::now() + std::chrono::duration<double>(budget_s);
  std::string text;
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration<double, std::milli>(deadline - Clock::now()).count();
    if (left <= 0) {
      ::kill(-child, SIGKILL);
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    const ssize_t r = ::read(fds[0], buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    text.append(buf, static_cast<std::size_t>(r));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  ::kill(-child, SIGKILL);
  UnguardProcessGroup(child);
  const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (clean && !text.empty()) {
    try {
      return RowFromJson(nlohmann::json::parse(text));
    } catch (const std::exception& e) {
      Fail(result, std::string("unreadable result from the row's child: ") + e.what());
      return result;
    }
  }
  std::string why = WIFEXITED(status) && WEXITSTATUS(status) == kStalledExit
                        ? "no progress within " + std::to_string(static_cast<int>(s.call_timeout_s)) + " s"
                        : "the row's child process " + DescribeWaitStatus(status);
  if (Interrupted()) why = "interrupted";
  Fail(result, why + "; stderr: " + FileTail(log_path, 5));
  return result;
}

}  // namespace

uint64_t TimedIterations(const RunSettings& s, double est_ns_per_call, uint64_t batch) {
  if (s.calls > 0) return std::max<uint64_t>(1, (s.calls + batch - 1) / batch);
  const double per_iter = std::max(est_ns_per_call, 1.0) * static_cast<double>(batch);
  return std::clamp<uint64_t>(static_cast<uint64_t>(s.duration_s * 1e9 / per_iter), 20, 20'000'000 / batch);
}

double TimerOverheadNs() {
  std::vector<double> d(20001);
  for (auto& x : d) {
    const auto a = Clock::now();
    const auto b = Clock::now();
    x = NsBetween(a, b);
  }
  return Summarize(std::move(d)).p50;
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

std::vector<std::string> PeerCommand(PeerKind peer, const RowSpec& spec, const std::string& address) {
  std::vector<std::string> argv;
  switch (peer) {
    case PeerKind::kCpp: argv = {BinaryDir() + "/peers/cpp/cpp_peer"}; break;
    case PeerKind::kPython: argv = {kPythonInterpreter, SourceDir() + "/peers/python/peer.py"}; break;
    case PeerKind::kRuby: argv = {"/usr/bin/ruby", SourceDir() + "/peers/ruby/peer.rb"}; break;
  }
  argv.push_back("--transport=" + std::string(spec.transport->name));
  argv.push_back("--address=" + address);
  if (!spec.codec.empty()) argv.push_back("--codec=" + spec.codec);
  if (spec.echo) argv.push_back("--echo");
  argv.insert(argv.end(), spec.extra_peer_args.begin(), spec.extra_peer_args.end());
  return argv;
}

RowResult RunRow(const RowSpec& spec, const RunSettings& settings, const RunContext& context) {
  const Placement place = context.pinning->For(spec.transport->wait_style);
  if (const std::string why = PeerUnavailableReason(spec.peer, *spec.transport); !why.empty()) {
    RowResult r = BlankResult(spec, settings, place.label);
    Fail(r, "cannot run here: " + why);
    return r;
  }
  if (spec.transport->wait_style == WaitStyle::kSpinning && context.pinning->cores() < 2) {
    RowResult r = BlankResult(spec, settings, place.label);
    Fail(r, "cannot run here: a spinning wait needs two cores, this machine has one");
    return r;
  }
  if (spec.transport->wait_style == WaitStyle::kInProcess) {
    return RunInForkedChild(spec, settings, context, place);
  }
  return RunWithPeerProcess(spec, settings, context, place);
}

}  // namespace interop
