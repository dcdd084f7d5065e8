// How long and how hard each row is measured: the settings every row and
// floor of a run share, validated before the run starts (bench/options.cc).
#pragma once

#include <cstdint>
#include <string>

#include "transports/transport.h"

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
  // In-process rows time batches of calls: this many, or 0 to find the batch
  // that lasts ~2 us. A row's later passes reuse its first pass's batch, so
  // all its repetitions time the same thing.
  uint64_t calls_per_sample = 0;
  bool normalize = false;          // rows judged against their floors (--normalize)
  std::string peer_fault;          // --peer-fault: the rows' C++ peers' --fault (tests only)
};

}  // namespace interop
