// Runs one row: start the peer, warm up, a closed-loop latency run (one call
// in flight, every call timed, samples kept; Google Benchmark drives the
// iterations and repetitions), then a throughput run (K calls in flight), and
// checks every reply. The runner owns the clock; transports only move bytes.
#pragma once

#include <cstdint>
#include <string>

#include "bench/peer_process.h"
#include "bench/pinning.h"
#include "bench/row_result.h"
#include "transports/registry.h"

namespace interop {

struct RunSettings {
  Op op = Op::kAdd;
  std::size_t features = 256;      // score: vector length
  std::string model = "fraud-v3";  // score: model name sent with every call
  uint64_t calls = 0;              // timed calls per repetition; 0: by duration
  double duration_s = 1.0;         // per repetition, when calls == 0
  double warmup_s = 0.5;
  int repetitions = 1;
  int inflight = 16;               // throughput run: calls in flight
  double throughput_s = 0.5;       // throughput run length; 0 skips it
  double call_timeout_s = 5;       // no progress for this long fails the row
  double ready_timeout_s = 30;     // a peer must print READY within this
};

struct RowSpec {
  const TransportSpec* transport = nullptr;
  PeerKind peer = PeerKind::kCpp;
  std::string codec;    // empty: the transport's default
  bool echo = false;    // baseline: the peer echoes frames (no decode, no workload)
  std::vector<std::string> extra_peer_args;  // appended to the peer's command line (tests)
};

class Services;

struct RunContext {
  std::string run_dir;  // private 0700 dir for sockets
  std::string log_dir;  // peers' stderr logs
  const Pinning* pinning = nullptr;
  std::string run_id;   // unique per bench run: key prefixes on shared services
  Services* services = nullptr;  // Redis, for transports that need it
};

// Runs the row; never throws for a row-level failure (status "failed", reason).
RowResult RunRow(const RowSpec& spec, const RunSettings& settings, const RunContext& context);

// The command that starts a peer (peers/README.md), or a reason it cannot run here.
std::vector<std::string> PeerCommand(PeerKind peer, const RowSpec& spec, const std::string& address);
std::string PeerUnavailableReason(PeerKind peer, const TransportSpec& transport);

// How a row's peer is started (command, stdio, CPU, log file).

PeerLaunch MakePeerLaunch(std::shared_ptr<void>* resources, const RowSpec& spec, const RunSettings& settings,
                          const RunContext& context,
                          int peer_cpu, const std::string& tag);

// The record a row starts from (names, codec, placement), before measuring.
RowResult BlankResult(const RowSpec& spec, const RunSettings& settings, const std::string& pin);

// Timed iterations per repetition, each of `batch` calls: --calls, or as many
// as fit --duration at the warmup's mean cost per call (20 at least).
uint64_t TimedIterations(const RunSettings& settings, double est_ns_per_call, uint64_t batch);

// Median cost of reading the clock twice (steady_clock), in ns.
double TimerOverheadNs();

}  // namespace interop
