// The one table of transports. It drives the CLI (valid names, `all`),
// `--list`, validation and the order of every report. Adding a transport means
// its folder, the peers' folders and one line in registry.cc: nothing else.
#pragma once

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
  kInProcess,  // no second process (ffi)
};

struct TransportSpec {
  std::string_view name;           // the CLI name
  std::string_view tier;           // as the workshop teaches it: "1-3", "4", "4/5", "5", ...
  std::string_view default_codec;  // the mechanism's idiomatic codec
  std::string_view summary;        // one line for --list and --help
  WaitStyle wait_style;
  bool peer_uses_stdio;  // the channel is the peer's stdin/stdout
  // The address a peer is told to listen on; run_dir is the run's private 0700 dir.
  std::string (*listen_address)(const std::string& run_dir, std::string_view peer);
  std::unique_ptr<Transport> (*make_client)(PeerKind peer);
  // Byte-stream transports only (else nullptr): connects to a ready peer and
  // returns the raw fds, for the hand-written ping-pong baseline (--baseline).
  void (*connect_raw)(const PeerEndpoint& peer, int* read_fd, int* write_fd) = nullptr;
};

// Every transport, in spectrum order (tightest first).
const std::vector<TransportSpec>& Transports();
const TransportSpec* FindTransport(std::string_view name);
// "ffi, unix, ..." for error messages.
std::string TransportNames();

}  // namespace interop
