#include "bench/options.h"

#include "common/raw_frame.h"

namespace interop {

Plan MakePlan(const BenchOptions& o) {
  Plan plan;
  RunSettings& s = plan.settings;
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
  if (!ParsePinPolicy(o.pin, &plan.pin)) {
    throw UsageError("unknown --pin '" + o.pin + "'; valid: auto, same, split, none");
  }
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
  plan.rows = PlanRows(transports, peers, o.codec, o.baseline, s);
  plan.redis_url = o.redis_url;
  plan.out_dir = o.out_dir;
  return plan;
}

}  // namespace interop
