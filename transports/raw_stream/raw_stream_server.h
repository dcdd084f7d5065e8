// The C++ peer's side of raw frames over a byte stream (unix, tcp, pipe).
#pragma once

#include <string>

#include "transports/peer_options.h"

namespace interop {

// Answers frames read from in_fd on out_fd until EOF, or until a frame leaves
// the stream out of step (bad magic, oversize length: error reply, then return).
// Bad payloads get an error reply and serving goes on (schemas/raw_frame.md).
// Returns true when the stream ended cleanly.
bool ServeRawStream(int in_fd, int out_fd, const PeerOptions& options);

// Prints "READY <address>", then accepts connections on listen_fd, each served
// by ServeRawStream on its own thread, until SIGTERM or SIGINT. Returns 0.
int ServeConnections(int listen_fd, const std::string& ready_address, const PeerOptions& options);

// Prints the READY line on stdout and flushes it (or, with --fault=no-ready,
// sleeps until killed).
void AnnounceReady(const std::string& address, const PeerOptions& options);

}  // namespace interop
