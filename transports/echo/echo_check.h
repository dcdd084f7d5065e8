// The floor's one check, shared by every transport's echo client: the bytes
// that came back must be exactly the bytes that were sent. Nothing is decoded;
// equal bytes carry the request's id back by construction.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "transports/transport.h"

namespace interop {

inline void CheckEcho(std::string_view sent, std::string_view got, uint64_t request_id, Reply& reply) {
  if (sent == got) {
    reply.id = request_id;
    reply.kind = ReplyKind::kEcho;
    return;
  }
  const auto diff = std::mismatch(sent.begin(), sent.end(), got.begin(), got.end());
  reply.error = "the echo changed the bytes: sent " + std::to_string(sent.size()) + " B, got " +
                std::to_string(got.size()) + " B, first difference at byte " +
                std::to_string(diff.first - sent.begin());
}

inline void CheckEcho(std::span<const uint8_t> sent, std::span<const uint8_t> got, uint64_t request_id,
                      Reply& reply) {
  auto view = [](std::span<const uint8_t> b) {
    return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
  };
  CheckEcho(view(sent), view(got), request_id, reply);
}

}  // namespace interop
