// Bounds of the gRPC tier shared by the harness's channel and the C++ peer.
#pragma once

namespace interop {

// MAX_GRPC_MESSAGE (schemas/interop.proto): every message each way, a batch
// of up to 16 MiB (MAX_BATCH_PAYLOAD) and its framing.
inline constexpr int kMaxGrpcMessage = 17825792;

}  // namespace interop
