#include "transports/raw_stream/raw_messages.h"

#include <cstdio>
#include <string>

namespace interop {
namespace {

std::size_t CallPayload(const Request& r) {
  return r.op == Op::kAdd ? raw::kAddRequestPayload : raw::ScoreRequestPayload(r.features.size(), r.model.size());
}

std::size_t BatchPayload(const Request& r) {
  std::size_t n = 8;
  for (const Request& item : r.items) n += raw::kItemHeaderSize + raw::Padded8(CallPayload(item));
  return n;
}

// One reply item or single reply's payload of `kind` into `out`.
void DecodeCall(raw::Kind kind, std::span<const uint8_t> payload, Reply& out) {
  switch (kind) {
    case raw::Kind::kAddReply:
      out.error = raw::ParseAddReply(payload, &out.result);
      out.kind = ReplyKind::kAdd;
      return;
    case raw::Kind::kScoreReply: {
      std::string_view label;
      out.error = raw::ParseScoreReply(payload, &out.score, &label);
      out.label.assign(label);
      out.kind = ReplyKind::kScore;
      return;
    }
    case raw::Kind::kError:
      out.error.assign("peer error: ");
      out.error.append(reinterpret_cast<const char*>(payload.data()), payload.size());
      return;
    default: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "unexpected reply kind 0x%02x", static_cast<unsigned>(kind));
      out.error = buf;
    }
  }
}

}  // namespace

std::size_t RawRequestFrameSize(const Request& r) {
  return raw::kHeaderSize + (r.is_batch() ? BatchPayload(r) : CallPayload(r));
}

std::string RawFrameTooLarge(const Request& r) {
  const std::size_t payload = RawRequestFrameSize(r) - raw::kHeaderSize;
  const raw::Kind kind = r.is_batch() ? raw::Kind::kBatchRequest : raw::Kind::kAddRequest;
  if (payload <= raw::MaxPayloadOf(kind)) return {};
  return "its raw frame's payload would be " + std::to_string(payload) + " bytes, above the bound of " +
         std::to_string(raw::MaxPayloadOf(kind));
}

void EncodeRawRequest(const Request& r, std::vector<uint8_t>& out) {
  if (!r.is_batch()) {
    if (r.op == Op::kAdd) raw::EncodeAddRequest(out, r.id, r.x, r.y);
    else raw::EncodeScoreRequest(out, r.id, r.features, r.model);
    return;
  }
  raw::BatchWriter w(out, raw::Kind::kBatchRequest, r.id);
  for (const Request& item : r.items) {
    if (item.op == Op::kAdd) w.AddAddRequest(item.x, item.y);
    else w.AddScoreRequest(item.features, item.model);
  }
  w.Finish();
}

void DecodeRawReply(const raw::Header& h, std::span<const uint8_t> payload, Reply& reply) {
  reply.id = h.id;
  if (h.kind != raw::Kind::kBatchReply) return DecodeCall(h.kind, payload, reply);
  thread_local std::vector<raw::BatchItem> items;  // one view per item, kept from reply to reply
  items.clear();
  if (std::string bad = raw::ParseBatch(payload, &items); !bad.empty()) {
    reply.error = "a malformed batch reply: " + bad;
    return;
  }
  reply.kind = ReplyKind::kBatch;
  reply.items.reserve(items.size());
  for (const raw::BatchItem& item : items) DecodeCall(item.kind, item.payload, reply.AddItem());
}

}  // namespace interop
