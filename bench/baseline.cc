#include "bench/baseline.h"

#include <chrono>
#include <optional>
#include <vector>

#include "bench/peer_process.h"
#include "bench/process_guard.h"
#include "bench/watchdog.h"
#include "common/raw_frame.h"
#include "common/workload.h"

namespace interop {
namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

bool HasBaseline(const TransportSpec& transport, PeerKind peer) {
  return transport.make_baseline != nullptr && (!transport.baseline_cpp_only || peer == PeerKind::kCpp);
}

RowResult RunBaselineRow(const RowSpec& row, const RunSettings& s, const RunContext& ctx) {
  RowSpec spec = row;
  spec.echo = true;
  const Placement place = ctx.pinning->For(spec.transport->wait_style);
  RowResult result = BlankResult(spec, s, place.label);
  result.reason = "baseline: hand-written ping-pong, echo peer";
  auto fail = [&](const std::string& why) {
    result.status = "failed";
    result.reason = why;
    return result;
  };
  if (!HasBaseline(*spec.transport, spec.peer)) return fail("no baseline for this transport and peer");
  if (const std::string why = PeerUnavailableReason(spec.peer, *spec.transport); !why.empty()) {
    return fail("cannot run here: " + why);
  }

  // The frame the real row would send, so both move the same bytes one way.
  std::vector<uint8_t> frame;
  const std::vector<double> features = RampFeatures(s.features);
  Request sample;
  sample.id = 1;
  sample.op = s.op;
  sample.x = 2;
  sample.y = 3;
  sample.features = features;
  sample.model = s.model;
  if (s.op == Op::kAdd) raw::EncodeAddRequest(frame, 1, 2, 3);
  else raw::EncodeScoreRequest(frame, 1, features, s.model);

  PinCurrentThread(place.harness_cpu);
  std::shared_ptr<void> resources;  // before the peer: released after it stops
  std::optional<PeerProcess> peer;
  try {
    peer.emplace(MakePeerLaunch(&resources, spec, s, ctx, place.peer_cpu,
                                result.transport + "-" + result.peer + "-echo"));
  } catch (const std::exception& e) {
    PinCurrentThread(-1);
    return fail(std::string("peer did not start: ") + e.what());
  }
  std::vector<double> samples;
  std::string failure;
  std::atomic<bool> give_up{false};
  Watchdog dog(s.call_timeout_s, [&peer, &give_up] {
    give_up = true;  // a shared-memory wait checks this...
    peer->Kill();    // ...a read on a socket or pipe ends with the peer
  }, Interrupted);
  try {
    std::function<bool()> round_trip = spec.transport->make_baseline(peer->endpoint(), frame, sample, give_up);
    // Same warmup and call count logic as the rows, without the Google
    // Benchmark harness around it: this is the floor.
    const auto start = Clock::now();
    uint64_t n = 0;
    while (n < 10 || Clock::now() - start < std::chrono::duration<double>(s.warmup_s)) {
      if (!round_trip()) throw TransportError("echo peer stopped answering, or changed the bytes");
      dog.Beat();
      ++n;
    }
    const double est_ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / n;
    const uint64_t total = TimedIterations(s, est_ns, 1) * static_cast<uint64_t>(s.repetitions);
    samples.reserve(total);
    for (uint64_t i = 0; i < total && !Interrupted(); ++i) {
      const auto t0 = Clock::now();
      if (!round_trip()) throw TransportError("echo peer stopped answering, or changed the bytes");
      const auto t1 = Clock::now();
      dog.Beat();
      samples.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
    }
  } catch (const TransportError& e) {
    failure = dog.fired() ? "no reply within " + std::to_string(static_cast<int>(s.call_timeout_s)) + " s; the peer was killed"
                          : std::string(e.what());
    failure += "; peer " + peer->DescribeExit(1.0) + "; stderr: " + peer->StderrTail(5);
  }
  peer->Stop();
  PinCurrentThread(-1);
  if (!failure.empty()) return fail(failure);
  result.calls = samples.size();
  result.stability_spread = MedianSpread(samples, 5);
  result.unstable = result.stability_spread > 0.05;
  result.latency_ns = Summarize(std::move(samples));
  return result;
}

}  // namespace interop
