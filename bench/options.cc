#include "bench/options.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <cstdio>

#include "bench/measure.h"
#include "transports/codec/codec.h"
#include "common/raw_frame.h"
#include "transports/fault/peer_fault.h"

namespace interop {
namespace {

std::string Number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// A time in seconds: finite and within (low, high], or [low, high] when
// zero_allowed (low is then 0 and means "skip").
double Seconds(const char* option, double v, double high, bool zero_allowed = false) {
  const bool ok = std::isfinite(v) && (zero_allowed ? v >= 0 : v > 0) && v <= high;
  if (!ok) {
    throw UsageError(std::string(option) + "=" + Number(v) + " is out of range: seconds, " +
                     (zero_allowed ? "0 (skip) to " : "more than 0 and at most ") + Number(high));
  }
  return v;
}

int64_t Count(const char* option, int64_t v, int64_t low, int64_t high) {
  if (v < low || v > high) {
    throw UsageError(std::string(option) + "=" + std::to_string(v) + " is out of range: " + std::to_string(low) +
                     " to " + std::to_string(high));
  }
  return v;
}

// An option that only some rows use, given for a run that has none of them.
void RefuseUnused(bool given, bool used, const std::string& option, const std::string& needs) {
  if (given && !used) throw UsageError(option + " has no effect here: it applies to " + needs);
}

bool AnyRow(const std::vector<const TransportSpec*>& transports, bool (*test)(const TransportSpec&)) {
  return std::any_of(transports.begin(), transports.end(), [test](const TransportSpec* t) { return test(*t); });
}

// --peer-fault=MODE: the C++ peer processes of the rows (never of the
// floors: a floor stays the floor) get --fault=MODE.
void PlantPeerFault(const std::string& mode, Plan& plan) {
  PeerFault parsed;
  if (const std::string bad = ParsePeerFault(mode, &parsed); !bad.empty()) {
    throw UsageError("unknown --peer-fault '" + mode + "'" + bad.substr(bad.find(';')));
  }
  int planted = 0;
  for (RowSpec& row : plan.rows) {
    if (row.role != RowRole::kRow || row.peer != PeerKind::kCpp) continue;
    if (row.transport->wait_style == WaitStyle::kInProcess) {
      row.note += std::string(row.note.empty() ? "" : "; ") + "--peer-fault not applied: no peer process";
      continue;
    }
    row.extra_peer_args.push_back("--fault=" + mode);
    ++planted;
  }
  if (planted == 0) throw UsageError("--peer-fault has no effect here: it applies to rows with a C++ peer process");
  plan.settings.peer_fault = mode;
}

// A batch the loop could not hold (K messages of B calls, each call kept
// until its reply is checked), or a message a selected transport cannot
// carry in a codec its rows speak (above the transport's or the codec's
// bound): refused before the run, never sent truncated. The largest B and
// the most features are the ones to check: a message grows with both.
void RefuseUncarriedMessages(const Plan& plan, const std::vector<int>& inflight, const std::vector<int>& batch) {
  const RunSettings& s = plan.settings;
  const int largest_batch = batch.empty() ? 0 : batch.back();
  const long most_k = inflight.empty() ? (s.throughput_s > 0 ? s.inflight : 1) : inflight.back();
  if (most_k * largest_batch > kMaxCallsHeld) {
    throw UsageError("--batch=" + std::to_string(largest_batch) + " with " + std::to_string(most_k) +
                     " messages in flight holds " + std::to_string(most_k * largest_batch) +
                     " calls at once; at most " + std::to_string(kMaxCallsHeld) + " (a smaller batch, or fewer in flight" +
                     (inflight.empty() ? ": --throughput=0 skips the throughput run's 16)" : ")"));
  }
  // Each transport and codec once, at the rows' most features.
  std::map<std::pair<const TransportSpec*, std::string>, std::size_t> most_features;
  for (const RowSpec& row : plan.rows) {
    std::size_t& f = most_features[{row.transport, row.codec}];
    f = std::max(f, RowSettings(row, s).features);
  }
  for (const auto& [which, features] : most_features) {
    const auto& [t, codec] = which;
    if (!t->too_large) continue;
    RunSettings at = s;
    at.features = features;
    const auto sample = MakeSampleMessage(at, largest_batch, 1);
    if (const std::string why = t->too_large(sample->request, ParseCodec(codec).value_or(Codec::kRaw)); !why.empty()) {
      const std::string what = (largest_batch > 0 ? "--batch=" + std::to_string(largest_batch) + " of " : std::string("")) +
                               (s.op == Op::kScore ? "score/" + std::to_string(features) : std::string("add"));
      throw UsageError(what + " cannot cross " + std::string(t->name) + " in " + codec + ": " + why +
                       " (a smaller batch or fewer features, or leave " + std::string(t->name) + " out)");
    }
  }
}

// --codec=LIST against the selected transports: the ones that cannot carry
// a listed codec are named once (not a row each); a codec no selected
// transport carries is a usage error.
std::vector<std::string> NotApplicable(const std::vector<const TransportSpec*>& transports,
                                       const std::vector<std::string>& codecs) {
  std::vector<std::string> lines;
  for (const std::string& c : codecs) {
    bool carried = false;
    for (const TransportSpec* t : transports) {
      const auto speaks = CodecsOf(*t);
      carried |= std::find(speaks.begin(), speaks.end(), c) != speaks.end();
    }
    if (!carried) {
      std::string names;
      for (const TransportSpec* t : transports) names += (names.empty() ? "" : ", ") + std::string(t->name);
      throw UsageError("--codec=" + c + ": no selected transport carries it (" + names +
                       "); raw, json and protobuf cross unix, pipe, tcp, shm, redis, redis-stream and file");
    }
  }
  for (const TransportSpec* t : transports) {
    const auto speaks = CodecsOf(*t);
    std::string missing;
    for (const std::string& c : codecs) {
      if (std::find(speaks.begin(), speaks.end(), c) == speaks.end()) missing += (missing.empty() ? "" : ", ") + c;
    }
    if (missing.empty()) continue;
    std::string has;
    for (const auto& c : speaks) has += (has.empty() ? "" : ", ") + c;
    lines.push_back(std::string(t->name) + ": " + has + " only, not " + missing);
  }
  return lines;
}

}  // namespace

Plan MakePlan(const BenchOptions& o) { return MakePlan(o, Pinning(PinPolicy::kNone).cores()); }

Plan MakePlan(const BenchOptions& o, int usable_cpus) {
  Plan plan;
  RunSettings& s = plan.settings;
  if (o.workload == "add") s.op = Op::kAdd;
  else if (o.workload == "score") s.op = Op::kScore;
  else throw UsageError("unknown workload '" + o.workload + "'; valid: add, score");
  RefuseUnused(o.features.has_value(), s.op == Op::kScore, "--features", "--workload=score");
  // One size, or a list: one row per size (the smallest also the settings').
  const std::vector<std::size_t> features = o.features ? ParseFeaturesList(*o.features) : std::vector<std::size_t>{};
  s.features = features.empty() ? 256 : features.front();
  // Limits: a row measures for seconds to minutes; an hour of anything is a typo.
  if (o.calls) s.calls = static_cast<uint64_t>(Count("--calls", *o.calls, 1, 1'000'000'000));
  if (o.ci && o.quick) throw UsageError("--ci and --quick are two presets; choose one");
  const CiPreset& ci = kCiPreset;
  s.duration_s = Seconds("--duration", o.duration_s.value_or(o.ci ? ci.duration_s : o.quick ? 0.2 : 1.0), 3600);
  s.warmup_s = Seconds("--warmup", o.warmup_s.value_or(o.ci ? ci.warmup_s : o.quick ? 0.05 : 0.5), 600);
  s.repetitions = static_cast<int>(
      Count("--repetitions", o.repetitions.value_or(o.ci ? ci.repetitions : o.quick ? 1 : 3), 1, 1000));
  s.throughput_s = Seconds("--throughput", o.throughput_s.value_or(o.ci ? ci.throughput_s : o.quick ? 0.1 : 0.5),
                           3600, /*zero_allowed=*/true);
  s.normalize = o.normalize || o.ci;
  std::vector<int> inflight;
  if (o.inflight) {
    inflight = ParseInflightList(*o.inflight);
    // A row under load measures its calls/s in its own run, at its K.
    if (o.throughput_s) {
      throw UsageError("--throughput has no effect with --inflight: each row's calls/s comes from its own run at K");
    }
    s.throughput_s = 0;
    // A floor echoes one call at a time: only the K=1 row has one (and
    // --baseline's wrk runs beside every REST row at its K), so there is no
    // row/floor ratio under load for compare to judge by.
    if (o.normalize || o.ci) {
      throw UsageError(std::string("--inflight cannot be combined with ") + (o.ci ? "--ci" : "--normalize") +
                       " yet: a floor echoes one call at a time, so a row under load has none to be judged by");
    }
  }
  std::vector<int> batch;
  if (o.batch) batch = ParseBatchList(*o.batch);
  s.call_timeout_s = Seconds("--timeout", o.call_timeout_s, 3600);
  s.ready_timeout_s = Seconds("--ready-timeout", o.ready_timeout_s, 3600);
  if (!ParsePinPolicy(o.pin, &plan.pin)) {
    throw UsageError("unknown --pin '" + o.pin + "'; valid: auto, same, split, none");
  }
  const auto transports = SelectTransports(o.transports.value_or(o.ci ? ci.transports : "all"),
                                          {{"shm", o.shm_wait.value_or("both")}, {"file", o.file_wait.value_or("both")}});
  const auto peers = SelectPeers(o.peers.value_or(o.ci ? ci.peers : "all"));
  RefuseUnused(o.shm_wait.has_value(), AnyRow(transports, [](const TransportSpec& t) { return t.family == "shm"; }),
               "--shm-wait", "shm rows (--transport=shm)");
  RefuseUnused(o.file_wait.has_value(), AnyRow(transports, [](const TransportSpec& t) { return t.family == "file"; }),
               "--file-wait", "file rows (--transport=file)");
  RefuseUnused(!o.redis_url.empty(), AnyRow(transports, [](const TransportSpec& t) { return t.needs_redis; }),
               "--redis", "the Redis rows (--transport=redis,redis-stream)");
  if (!o.redis_url.empty() && o.redis_url.rfind("unix://", 0) != 0 && o.redis_url.rfind("redis://", 0) != 0) {
    throw UsageError("--redis=" + o.redis_url + " is not a Redis URL; valid: unix:///path/to/socket or redis://host:port");
  }
  // A spinning wait needs the two sides on two cores: on one, the spinner
  // holds the CPU until the scheduler tick (~4-8 ms) on every call.
  for (const TransportSpec* t : transports) {
    if (t->wait_style != WaitStyle::kSpinning) continue;
    const std::string name(t->name);
    if (usable_cpus < 2) {
      throw UsageError(name + " spins while it waits and needs two CPUs; this process may use " +
                       std::to_string(usable_cpus) + " (leave it out with --shm-wait=futex)");
    }
    if (plan.pin == PinPolicy::kSame) {
      throw UsageError("--pin=same puts caller and peer on one core, where " + name +
                       "'s spinning wait cannot run; use --pin=auto or split, or leave it out with --shm-wait=futex");
    }
  }
  std::vector<std::string> codecs;
  if (!o.codec.empty()) {
    codecs = ParseCodecList(o.codec);
    plan.not_applicable = NotApplicable(transports, codecs);
  }
  // Floors for --baseline and --normalize; wrk beside the HTTP rows for --baseline only.
  plan.rows = PlanRows(transports, peers, o.baseline || s.normalize, o.baseline,
                       {inflight, batch, features.size() > 1 ? features : std::vector<std::size_t>{}, codecs});
  RefuseUncarriedMessages(plan, inflight, batch);
  if (!o.peer_fault.empty()) PlantPeerFault(o.peer_fault, plan);
  plan.redis_url = o.redis_url;
  plan.out_dir = o.out_dir;
  return plan;
}

}  // namespace interop
