#include "bench/summarize.h"

#include <algorithm>
#include <cmath>

namespace interop {
namespace {

std::optional<double> PerCall(const std::optional<double>& ns, uint64_t calls) {
  if (!ns || calls == 0) return std::nullopt;
  return *ns / static_cast<double>(calls);
}

// The sum of one party's CPU (or one way's bytes) over the repetitions, or
// nothing if any repetition could not read it (a total with a gap would be
// too low).
std::optional<double> TotalCpu(const Measurement& m, std::optional<double> RepetitionSamples::*part) {
  double total = 0;
  for (const auto& r : m.repetitions) {
    if (!(r.*part)) return std::nullopt;
    total += *(r.*part);
  }
  return m.repetitions.empty() ? std::nullopt : std::optional<double>(total);
}

}  // namespace

void Summarize(const Measurement& m, RowResult& row) {
  row.calls_per_sample = m.calls_per_sample;
  row.errors = m.errors;
  row.calls_per_s = m.calls_per_s;
  row.throughput_inflight = m.inflight;
  if (row.id.inflight > 0) {
    // A row under load (--inflight=K): its calls/s is its repetitions' own,
    // every right reply over the wall time it took at K in flight.
    double calls = 0, ns = 0;
    for (const auto& r : m.repetitions) {
      calls += static_cast<double>(r.calls);
      ns += r.timed_ns;
    }
    row.calls_per_s = ns > 0 ? calls / (ns / 1e9) : 0;
    row.throughput_inflight = ns > 0 ? row.id.inflight : 0;
  }
  row.reference_runs = m.reference_runs;
  row.reference_error = m.reference_error;
  std::vector<double> all;
  std::vector<double> rep_p50s;
  row.calls = 0;
  row.repetitions.clear();
  for (const auto& r : m.repetitions) {
    RepetitionStats stats;
    stats.calls = r.calls;
    if (!r.ns_per_call.empty()) {
      const Summary s = Summarize(r.ns_per_call);
      stats.mean_ns = s.mean;
      stats.p50_ns = s.p50;
      rep_p50s.push_back(s.p50);
    }
    stats.caller_cpu_ns_per_call = PerCall(r.caller_cpu_ns, r.calls);
    stats.peer_cpu_ns_per_call = PerCall(r.peer_cpu_ns, r.calls);
    stats.broker_cpu_ns_per_call = PerCall(r.broker_cpu_ns, r.calls);
    // Under load, the repetition's own calls/s, to set beside a reference
    // tool's run (bench/reference.cc).
    if (row.id.inflight > 1 && r.timed_ns > 0) stats.calls_per_s = static_cast<double>(r.calls) / (r.timed_ns / 1e9);
    row.repetitions.push_back(stats);
    row.calls += r.calls;
    all.insert(all.end(), r.ns_per_call.begin(), r.ns_per_call.end());
  }
  // Every sample stands for calls_per_sample calls, so the samples' mean is
  // also the mean per call over every timed call (what gbench.json reports).
  row.latency_ns = Summarize(all);
  // The p50's spread: over the repetitions' p50s, or with one repetition over
  // the medians of five consecutive slices of it (unknown if it is too short).
  const std::vector<double> points =
      m.repetitions.size() >= 2 ? rep_p50s
                                : (m.repetitions.empty() ? std::vector<double>{}
                                                         : SliceMedians(m.repetitions[0].ns_per_call, 5));
  row.p50_low_ns = row.p50_high_ns = row.latency_ns.p50;
  row.p50_spread.reset();
  if (points.size() >= 2 && row.latency_ns.p50 > 0) {
    row.p50_low_ns = *std::min_element(points.begin(), points.end());
    row.p50_high_ns = *std::max_element(points.begin(), points.end());
    row.p50_spread = (row.p50_high_ns - row.p50_low_ns) / row.latency_ns.p50;
  }
  row.p50_mad.reset();
  if (points.size() >= 2) {
    const double median = Median(points);
    std::vector<double> deviations;
    for (double p : points) deviations.push_back(std::abs(p - median));
    if (median > 0) row.p50_mad = Median(deviations) / median;
  }
  row.unstable = row.p50_mad.value_or(0) > kUnstableMad;
  row.cpu_ns_per_call.caller = PerCall(TotalCpu(m, &RepetitionSamples::caller_cpu_ns), row.calls);
  row.cpu_ns_per_call.peer = PerCall(TotalCpu(m, &RepetitionSamples::peer_cpu_ns), row.calls);
  row.cpu_ns_per_call.broker = PerCall(TotalCpu(m, &RepetitionSamples::broker_cpu_ns), row.calls);
  // Bytes per message: every message the repetitions sent, right or wrong.
  uint64_t messages = 0;
  for (const auto& r : m.repetitions) messages += r.messages;
  row.request_bytes = PerCall(TotalCpu(m, &RepetitionSamples::bytes_sent), messages);
  row.reply_bytes = PerCall(TotalCpu(m, &RepetitionSamples::bytes_received), messages);

  if (!m.failure.empty()) {
    row.status = RowStatus::kFailed;
    row.reason = m.failure;
    if (!m.first_error.empty()) row.reason += "; first wrong reply: " + m.first_error;
  } else if (m.errors > 0) {
    row.status = RowStatus::kFailed;
    row.reason = std::to_string(m.errors) + " wrong or error replies; first: " + m.first_error;
  }
}

}  // namespace interop
