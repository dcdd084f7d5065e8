#pragma once
#include "transports/peer_options.h"
namespace interop {
// The C++ peer's gRPC server (grpc++ sync): Add, Score and the bidi Stream.
// Serves both `grpc` and `grpc-stream`.
int ServeGrpc(const PeerOptions& options);
}  // namespace interop
