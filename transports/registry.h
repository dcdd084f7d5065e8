// The one table of transports. It drives the CLI (valid names, `all`),
// `--list`, validation and the order of every report. Adding a transport means
// its folder, the peers' folders and one line in registry.cc: nothing else.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "transports/transport.h"

namespace interop {

// The far side of a transport.
enum class PeerKind { kCpp, kPython, kRuby };
inline constexpr PeerKind kAllPeers[] = {PeerKind::kCpp, PeerKind::kPython, PeerKind::kRuby};
std::string_view PeerName(PeerKind peer);

// How the two sides wait for each other; it decides how `--pin=auto` places them.
enum class WaitStyle {
  kBlocking,   // sleeps in the kernel until woken (sockets, pipes, HTTP, ...)
  kSpinning,   // busy-polls memory: needs its own core, never shares one
  kSpinThenSleep,  // polls briefly, then sleeps: the poll only pays off across cores
  kInProcess,  // no second process (ffi)
};

// What a transport needs to know to tell a peer where to listen.
struct AddressContext {
  std::string run_dir;    // the run's private 0700 dir
  std::string tag;        // unique per row, e.g. "unix-python"
  std::string run_id;     // unique per bench run (key prefixes on shared services)
  std::string redis_url;  // set for transports with needs_redis
  bool wait_spinning_apart = false;  // the two sides run on different cores (may spin)
  int inflight = 1;  // the most calls the row keeps in flight (shm sizes its ring by it)
  // A message of the row (a batch's, when it makes batches), whose size a
  // transport may need to know (shm sizes its slots by it). Never null.
  const Request* sample = nullptr;
  bool echo = false;  // the row is a floor: its peer echoes requests back
  Codec codec = Codec::kRaw;  // the row's codec (for the tiers that carry bytes)
};

struct TransportSpec {
  std::string_view name;           // the CLI name
  std::string_view tier;           // as the workshop teaches it: "1-3", "4", "4/5", "5", ...
  std::string_view default_codec;  // the mechanism's idiomatic codec
  std::string_view summary;        // one line for --list and --help
  WaitStyle wait_style;
  bool peer_uses_stdio;  // the channel is the peer's stdin/stdout
  // The address a peer is told to listen on.
  std::string (*listen_address)(const AddressContext& where);
  // Optional: creates what the address names before the peer starts (a
  // shared-memory segment, a handoff dir) and returns the address. The holder
  // removes it when released, which the runner does after the peer has stopped.
  std::shared_ptr<void> (*prepare)(const AddressContext& where, std::string* address) = nullptr;
  // The harness's client. kEcho makes the floor's client: it sends exactly the
  // bytes a kCall client sends, to the peer in --echo mode, and checks that
  // the very same bytes come back (Reply::kind = kEcho); nothing is decoded.
  // `codec` is the row's, one of `codecs` (or the default codec's).
  std::unique_ptr<Transport> (*make_client)(PeerKind peer, ClientMode mode, Codec codec);
  // Optional: why this transport cannot carry `message` in `codec` (a
  // batch, usually: its encoded size above the bound), or "" when it can.
  // The plan asks with the run's largest message before anything runs.
  std::string (*too_large)(const Request& message, Codec codec) = nullptr;
  // Optional, for HTTP transports: the path and body a row sends for
  // `request`. With --baseline, wrk makes those calls against the row's peer
  // beside the row, as its reference (bench/reference.h).
  void (*http_request)(const Request& request, std::string* path, std::string* body) = nullptr;
  // How the client keeps calls in flight (--inflight), for the notes and
  // the docs, e.g. "pipelined frames on the one stream"; empty when it cannot
  // overlap calls yet (Transport's default Send/Receive: one after another).
  std::string_view overlaps = {};
  // Needs a Redis server (the harness starts a private one, or uses --redis=URL).
  bool needs_redis = false;
  // Rows of one mechanism that differ in how they wait share a family: naming
  // the family on the command line selects them all, and --FAMILY-wait=VARIANT
  // narrows it (e.g. shm: spin, futex). Empty for transports without variants.
  std::string_view family = {};
  std::string_view variant = {};
  // Every codec it can carry (--codec=LIST), the default among them; empty:
  // the default codec only (the mechanism fixes it: JSON over REST,
  // protobuf over gRPC, none in-process).
  std::vector<Codec> codecs = {};
  // How request_bytes and reply_bytes are counted, for the docs and JSON.
  std::string_view bytes_counted = {};
};

// Every transport, in spectrum order (tightest first).
const std::vector<TransportSpec>& Transports();
const TransportSpec* FindTransport(std::string_view name);
// "ffi, unix, ..." for error messages.
std::string TransportNames();

}  // namespace interop
