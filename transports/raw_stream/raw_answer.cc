#include "transports/raw_stream/raw_answer.h"

#include <cstring>

#include "common/workload.h"
#include "transports/codec/protobuf_messages.h"
#include "transports/json/json_codec.h"

namespace interop {
namespace {

// The doubles of a score request, copied out of the frame: on the wire they
// are 8-byte aligned only if the buffer is, and a batch item's always are
// relative to the frame, but not necessarily in memory.
ScoreResult ScoreOf(const raw::ScoreRequestView& req, std::vector<double>& features) {
  features.resize(req.n);
  if (req.n) std::memcpy(features.data(), req.features_le.data(), req.features_le.size());
  return Score(features);
}

RawAnswer AnswerBatch(uint64_t id, std::span<const uint8_t> payload, std::vector<uint8_t>& out,
                      std::vector<double>& features) {
  std::vector<raw::BatchItem> items;
  if (std::string bad = raw::ParseBatch(payload, &items); !bad.empty()) {
    raw::EncodeError(out, id, bad);
    return {0, std::move(bad)};
  }
  raw::BatchWriter reply(out, raw::Kind::kBatchReply, id);
  for (const raw::BatchItem& item : items) {
    std::string err;
    if (item.kind == raw::Kind::kAddRequest) {
      int64_t x, y;
      err = raw::ParseAddRequest(item.payload, &x, &y);
      if (err.empty()) reply.AddAddReply(Add(x, y));
    } else if (item.kind == raw::Kind::kScoreRequest) {
      raw::ScoreRequestView req;
      err = raw::ParseScoreRequest(item.payload, &req);
      if (err.empty()) {
        const ScoreResult r = ScoreOf(req, features);
        reply.AddScoreReply(r.score, r.label);
      }
    } else {
      err = "unknown request kind in a batch item";
    }
    if (!err.empty()) reply.AddError(err);  // one bad call costs itself, not its batch
  }
  reply.Finish();
  return {items.size(), {}};
}

}  // namespace

RawAnswer AnswerRawRequest(const raw::Header& h, std::span<const uint8_t> payload, std::vector<uint8_t>& out,
                           std::vector<double>& features) {
  std::string err;
  switch (h.kind) {
    case raw::Kind::kAddRequest: {
      int64_t x, y;
      err = raw::ParseAddRequest(payload, &x, &y);
      if (err.empty()) {
        raw::EncodeAddReply(out, h.id, Add(x, y));
        return {1, {}};
      }
      break;
    }
    case raw::Kind::kScoreRequest: {
      raw::ScoreRequestView req;
      err = raw::ParseScoreRequest(payload, &req);
      if (err.empty()) {
        const ScoreResult r = ScoreOf(req, features);
        raw::EncodeScoreReply(out, h.id, r.score, r.label);
        return {1, {}};
      }
      break;
    }
    case raw::Kind::kBatchRequest:
      return AnswerBatch(h.id, payload, out, features);
    case raw::Kind::kJsonRequest:
    case raw::Kind::kProtobufRequest: {
      const std::string_view message(reinterpret_cast<const char*>(payload.data()), payload.size());
      std::string reply;
      std::size_t calls = 0;
      raw::Kind kind;
      if (h.kind == raw::Kind::kJsonRequest) {
        auto answer = json_codec::AnswerRequest(message, std::nullopt, nullptr, h.id);
        reply = std::move(answer.body);
        calls = answer.calls;
        if (answer.http_status != 200) err = reply;
        kind = raw::Kind::kJsonReply;
      } else {
        calls = protobuf_codec::AnswerMessage(message, h.id, &reply);
        if (calls == 0) err = "a protobuf request answered with an error";
        kind = raw::Kind::kProtobufReply;
      }
      out.resize(raw::kHeaderSize + reply.size());
      raw::EncodeHeader(out.data(), kind, h.id, static_cast<uint32_t>(reply.size()));
      std::memcpy(out.data() + raw::kHeaderSize, reply.data(), reply.size());
      return {calls, std::move(err)};
    }
    default:
      err = "unknown request kind";
  }
  raw::EncodeError(out, h.id, err);
  return {0, std::move(err)};
}

}  // namespace interop
