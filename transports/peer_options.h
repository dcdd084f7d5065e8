// The peer command line (peers/README.md), as the C++ peer's servers see it.
#pragma once

#include <string>

#include "transports/fault/peer_fault.h"

namespace interop {

struct PeerOptions {
  std::string transport;
  std::string address;
  std::string codec;
  bool echo = false;  // baseline: send every frame back unchanged, no decoding
  // For the harness's own tests only (C++ peer): misbehave on purpose
  // (transports/fault/peer_fault.h, peers/README.md).
  PeerFault fault;
  // For tests of calls in flight (--count-held): count the most requests
  // this peer held at once (received, not yet answered) and say so on stderr
  // each time it grows. Off by default: it costs a syscall per request.
  bool count_held = false;
  // For tests of batches (--count-messages): say after every message how
  // many messages and calls this peer has answered (peer_counts.h).
  bool count_messages = false;
  // --inflight=K: the most calls the harness keeps in flight, so a server
  // that ties a thread to a connection can have one for each (REST).
  int inflight = 1;
};

}  // namespace interop
