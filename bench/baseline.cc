#include "bench/baseline.h"

#include <chrono>
#include <optional>
#include <vector>

#include "bench/peer_process.h"
#include "bench/process_guard.h"
#include "common/fd_io.h"
#include "common/raw_frame.h"
#include "common/workload.h"

namespace interop {
namespace {

using Clock = std::chrono::steady_clock;

// Reads exactly n bytes; false on EOF or error.
bool ReadExactly(int fd, uint8_t* p, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r > 0) {
      p += r;
      n -= static_cast<std::size_t>(r);
    } else if (r == 0 || errno != EINTR) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool HasBaseline(const TransportSpec& transport) { return transport.connect_raw != nullptr; }

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
  if (!HasBaseline(*spec.transport)) return fail("no baseline for this transport");
  if (const std::string why = PeerUnavailableReason(spec.peer, *spec.transport); !why.empty()) {
    return fail("cannot run here: " + why);
  }

  // The frame the real row would send, so both move the same bytes one way.
  std::vector<uint8_t> frame;
  const std::vector<double> features = RampFeatures(s.features);
  if (s.op == Op::kAdd) raw::EncodeAddRequest(frame, 1, 2, 3);
  else raw::EncodeScoreRequest(frame, 1, features, s.model);
  std::vector<uint8_t> back(frame.size());

  PinCurrentThread(place.harness_cpu);
  std::optional<PeerProcess> peer;
  try {
    peer.emplace(MakePeerLaunch(spec, s, ctx, place.peer_cpu,
                                result.transport + "-" + result.peer + "-echo"));
  } catch (const PeerError& e) {
    PinCurrentThread(-1);
    return fail(std::string("peer did not start: ") + e.what());
  }
  int rfd = -1, wfd = -1;
  std::vector<double> samples;
  std::string failure;
  try {
    spec.transport->connect_raw(peer->endpoint(), &rfd, &wfd);
    auto round_trip = [&] {
      return WriteFull(wfd, frame.data(), frame.size()) && ReadExactly(rfd, back.data(), back.size());
    };
    // Same warmup and call count logic as the rows, without the Google
    // Benchmark harness around it: this is the floor.
    const auto start = Clock::now();
    uint64_t n = 0;
    while (n < 10 || Clock::now() - start < std::chrono::duration<double>(s.warmup_s)) {
      if (!round_trip()) throw TransportError("echo peer stopped answering");
      ++n;
    }
    const double est_ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / n;
    const uint64_t per_rep = s.calls > 0 ? s.calls
                                         : std::max<uint64_t>(20, static_cast<uint64_t>(s.duration_s * 1e9 / est_ns));
    const uint64_t total = per_rep * static_cast<uint64_t>(s.repetitions);
    samples.reserve(total);
    for (uint64_t i = 0; i < total && !Interrupted(); ++i) {
      const auto t0 = Clock::now();
      if (!round_trip()) throw TransportError("echo peer stopped answering");
      const auto t1 = Clock::now();
      samples.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
    }
    if (back != frame) ++result.errors;  // the echo must be byte-exact
  } catch (const TransportError& e) {
    failure = std::string(e.what()) + "; peer " + peer->DescribeExit(1.0) + "; stderr: " + peer->StderrTail(5);
  }
  if (spec.transport->peer_uses_stdio) {
    rfd = wfd = -1;  // the peer's pipes; PeerProcess closes them
  } else {
    if (wfd != rfd) CloseFd(wfd);
    CloseFd(rfd);
  }
  peer->Stop();
  PinCurrentThread(-1);
  if (!failure.empty()) return fail(failure);
  if (result.errors) return fail("the echo peer changed the bytes");
  result.calls = samples.size();
  result.stability_spread = MedianSpread(samples, 5);
  result.unstable = result.stability_spread > 0.05;
  result.latency_ns = Summarize(std::move(samples));
  return result;
}

}  // namespace interop
