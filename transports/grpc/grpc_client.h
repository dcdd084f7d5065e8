#pragma once
#include "transports/registry.h"
namespace interop {
// Tier 5: gRPC + protobuf on 127.0.0.1. `grpc`: one unary RPC per call over one
// channel. `grpc-stream`: requests and replies on one long-lived bidi stream.
TransportSpec GrpcTransport();
TransportSpec GrpcStreamTransport();
}  // namespace interop
