// The rows a run will measure, in report order, decided before anything runs:
// the CLI's selections checked against the registry (an unknown name is an
// error that lists the valid ones), each row's identity, and where asked
// (--baseline) each row's floor right after it, or why it has none.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/pinning.h"
#include "bench/row_id.h"
#include "bench/settings.h"
#include "transports/registry.h"

namespace interop {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct RowSpec {
  const TransportSpec* transport = nullptr;
  PeerKind peer = PeerKind::kCpp;
  std::string codec;   // on the wire; the transport's default unless chosen
  RowRole role = RowRole::kRow;
  std::string note;    // shown with the result, e.g. why the row has no floor
  bool with_reference = false;  // a reference tool runs beside the row (wrk for HTTP, --baseline)
  std::vector<std::string> extra_peer_args;  // appended to the peer's command line (tests)
  int inflight = 0;    // calls in flight while timed (--inflight=K); 0: the default run
  int batch = 0;       // calls per message (--batch=B); 0: single calls
  std::size_t features = 0;  // score's vector length (--features=LIST); 0: the settings'
};

// The settings a row runs with: the run's, with the row's own features.
RunSettings RowSettings(const RowSpec& spec, const RunSettings& settings);
// The row's score size (its own under --features=LIST, else the run's).
std::size_t FeaturesOf(const RowSpec& spec, const RunSettings& settings);
// The row's codec (raw for ffi's "none").
Codec CodecOf(const RowSpec& spec);

// A row spec with the transport's default codec (tests build rows this way).
RowSpec MakeRowSpec(const TransportSpec* transport, PeerKind peer, RowRole role = RowRole::kRow,
                    std::vector<std::string> extra_peer_args = {});

// The identity of the row a spec runs under these settings.
RowId IdOf(const RowSpec& spec, const RunSettings& settings);

// Everything a run does, validated (bench/options.cc makes it).
struct Plan {
  RunSettings settings;
  std::vector<RowSpec> rows;
  PinPolicy pin = PinPolicy::kAuto;
  std::string redis_url;  // empty: a private redis-server
  std::string out_dir;    // empty: print only
  // With --codec=LIST: each selected transport that cannot carry a listed
  // codec, named once ("rest: json only, not raw, protobuf").
  std::vector<std::string> not_applicable;
};

// "unix,tcp", a family ("shm": every shm row) or "all" -> transports in
// registry order. variant_filters maps a family to the variant wanted
// ("shm" -> "spin"); "both" or no entry keeps every variant. Throws UsageError.
std::vector<const TransportSpec*> SelectTransports(
    const std::string& list, const std::map<std::string, std::string>& variant_filters = {});
// "cpp,ruby" or "all" -> peers in cpp, python, ruby order. Throws UsageError.
std::vector<PeerKind> SelectPeers(const std::string& list);

// The knobs given as lists: one row per value of each, every combination.
struct Knobs {
  std::vector<int> inflight;  // --inflight=LIST, ascending; empty: the default run
  std::vector<int> batch;     // --batch=LIST, ascending; empty: single calls
  std::vector<std::size_t> features;  // --features=LIST (score), ascending; empty: the settings'
  // --codec=LIST, as given; empty: each transport's default. A transport
  // gets a row for each of them it can carry.
  std::vector<std::string> codecs;
};

// Every transport x peer, in report order; with floors (--baseline,
// --normalize), each row's floor follows it (or the row's note says why it
// has none); with references (--baseline), an HTTP row gets wrk beside it.
// With calls in flight (--inflight=LIST, ascending), one row per K instead,
// K varying fastest; a floor only after the K=1 row (a floor echoes one call
// at a time), and wrk -cK beside every HTTP row with references. With
// batches (--batch=LIST), one row per B (and per K within it): a batch row's
// floor echoes its batch message.
std::vector<RowSpec> PlanRows(const std::vector<const TransportSpec*>& transports,
                              const std::vector<PeerKind>& peers, bool floors, bool references,
                              const Knobs& knobs = {});

// "1,8,64" -> {1, 8, 64}, ascending: each a count of calls in flight from 1
// to kMaxInflight, none twice. Throws UsageError naming --inflight.
std::vector<int> ParseInflightList(const std::string& list);
// "1,10,100" -> {1, 10, 100}, ascending: calls per message from 1 to
// kMaxBatch, none twice. Throws UsageError naming --batch.
std::vector<int> ParseBatchList(const std::string& list);
// "16,4096" -> ascending vector lengths from 1 to MAX_FEATURES, none twice.
std::vector<std::size_t> ParseFeaturesList(const std::string& list);
// "raw,json" -> codec names, each known (raw, json, protobuf), none twice.
std::vector<std::string> ParseCodecList(const std::string& list);
// The codecs a transport can carry (its default first).
std::vector<std::string> CodecsOf(const TransportSpec& transport);

// A batch's bound in every codec (raw_frame.md MAX_BATCH_ITEMS, and JSON's).
inline constexpr int kMaxBatch = 100000;
// Calls the loop holds at once (K messages of B calls): each is a request
// kept until its reply is checked.
inline constexpr long kMaxCallsHeld = 1 << 20;
// The most calls in flight: the shm ring's most entries (shm_segment.h).
// (A stream's K replies may outgrow what it buffers, batches especially:
// the raw stream client takes replies in while a write waits.)
inline constexpr int kMaxInflight = 1024;

// The --list table: each transport x peer and whether it can run here (and why not).
std::string RenderTransportList();

}  // namespace interop
