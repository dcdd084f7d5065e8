// The one timing loop. Every row and every floor, in the harness or in the
// forked child of an in-process row, is timed here: the same warmup, the same
// number of timed calls, the same clock, the same checks of every reply and
// the same CPU accounting. What comes out is raw: the samples of each
// repetition, the errors, the CPU each party burned. Every statistic is made
// from it once, in bench/summarize.cc.
#pragma once

#include <sys/types.h>
#include <time.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bench/row_id.h"
#include "bench/row_result.h"
#include "bench/settings.h"
#include "bench/watchdog.h"
#include "transports/transport.h"

namespace interop {

// A process's CPU time, all its threads (also those that ended), in ns.
class CpuClock {
 public:
  static CpuClock OfThisProcess();
  static CpuClock OfProcess(pid_t pid);  // a child, e.g. the peer
  // Nothing when the clock cannot be read (the process is gone).
  std::optional<double> Ns() const;

 private:
  explicit CpuClock(clockid_t id, bool valid) : id_(id), valid_(valid) {}
  clockid_t id_;
  bool valid_;
};

// One repetition of the latency run.
struct RepetitionSamples {
  std::vector<double> ns_per_call;  // one per timed sample, in the order taken
  uint64_t calls = 0;               // calls behind those samples
  std::optional<double> caller_cpu_ns;  // CPU burned during the repetition
  std::optional<double> peer_cpu_ns;
  std::optional<double> broker_cpu_ns;
  // The wall time those calls took: the sum of the samples' windows or,
  // under load (--inflight), from the first send to the last reply.
  double timed_ns = 0;
  // The messages sent in the repetition, right or wrong, and the bytes the
  // transport counted for them each way (Transport::Wire; nothing for an
  // in-process call).
  uint64_t messages = 0;
  std::optional<double> bytes_sent;
  std::optional<double> bytes_received;
};

struct Measurement {
  uint64_t calls_per_sample = 1;  // in-process calls are timed in batches
  std::vector<RepetitionSamples> repetitions;
  uint64_t errors = 0;            // wrong, missing or error replies, any phase
  std::string first_error;        // what was wrong with the first of them
  double calls_per_s = 0;         // throughput run (rows only)
  int inflight = 0;               // its calls in flight; 0: it did not run
  std::string failure;            // non-empty: the measurement stopped early, and why
  // The reference runs made after each repetition (MeasureContext), in
  // order, so repetition i and reference run i are a pair.
  std::vector<ReferenceRun> reference_runs;
  std::string reference_error;  // why a reference run failed (the first one)
};

// What the loop needs besides the transport.
struct MeasureContext {
  const RunSettings* settings = nullptr;
  RowRole role = RowRole::kRow;   // a floor checks echoes, and has no throughput run
  bool in_process = false;        // time batches of calls, not single calls
  // The row's calls in flight (--inflight=K, its identity): above 1, every
  // repetition keeps K in flight and times each call; 1 is the closed loop;
  // 0, the default run: the closed loop, then a row's throughput run at
  // settings->inflight.
  int inflight = 0;
  // Calls per message (--batch=B, its identity): every request carries B
  // calls and every reply's B results are checked; 0, single calls. The
  // loop times messages: a sample is one message's round trip.
  int batch = 0;
  Watchdog* watchdog = nullptr;   // beaten after every timed sample, warmup call and throughput round
  const CpuClock* peer_cpu = nullptr;    // nullptr: no peer process
  const CpuClock* broker_cpu = nullptr;  // nullptr: no broker of ours
  // Optional: run after each repetition, against the same peer, outside the
  // timed calls and their CPU accounting (a reference tool beside the row,
  // alternating with it). The watchdog is given its duration.
  // It throws std::runtime_error when the tool fails: that pair then has no
  // reference run, and the row goes on.
  std::function<ReferenceRun()> reference = nullptr;
  double reference_s = 0;  // how long one reference run lasts
};

// A message the rows send (call `id`: x, y spread over the whole int64
// range, or the ramp features), with the storage its views point into (the ramp
// features of score calls, a batch's items): what a tool beside a row
// sends, or what a transport sizes itself by. Not copyable, as the views
// would dangle.
struct SampleMessage {
  std::vector<double> features;
  std::vector<Request> items;
  Request request;
  SampleMessage() = default;
  SampleMessage(const SampleMessage&) = delete;
  SampleMessage& operator=(const SampleMessage&) = delete;
};
// Message `id` of a row making `batch` calls per message (0: single calls).
std::unique_ptr<SampleMessage> MakeSampleMessage(const RunSettings& settings, int batch, uint64_t id);

// Warms up, runs the repetitions (the closed loop: one call in flight, every
// call timed; or, for a row under load, K in flight, every call timed) and,
// for rows of the default run, the throughput run, filling `out` as it goes:
// a run that throws TransportError keeps what it measured.
void MeasureCalls(Transport& transport, const MeasureContext& ctx, Measurement& out);

// Timed samples per repetition, each of `batch` calls: --calls, or as many as
// fit --duration at the warmup's mean cost per call (20 at least).
uint64_t TimedIterations(const RunSettings& settings, double est_ns_per_call, uint64_t batch);

// Median cost of reading the clock twice (steady_clock), in ns.
double TimerOverheadNs();

// The measurement as bytes, for the forked child of an in-process row to hand
// back to the harness: a JSON object (every field but the samples, each
// repetition saying how many samples it has), a NUL byte, then every
// repetition's samples as little-endian binary64, in order. (Reference runs
// do not cross: in-process rows have none.)
std::string EncodeMeasurement(const Measurement& m);
Measurement DecodeMeasurement(std::string_view bytes);  // throws std::runtime_error

}  // namespace interop
