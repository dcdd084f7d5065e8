// The JSON forms of schemas/interop.schema.json, for every JSON transport
// (rest, redis, redis-stream, file), on both sides: the harness encodes
// requests and decodes replies; the C++ peer decodes requests and encodes replies.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "transports/transport.h"

namespace interop::json_codec {

inline constexpr std::size_t kMaxJsonBytes = 4194304;  // 4 MiB, a batch's body too

// The harness side, in every call a JSON row times, so written to be cheap
// (measured with callgrind: nlohmann's DOM cost ~13 k instructions a call).
//
// Writes {"id":..,"op":"add","x":..,"y":..} into `out` (op omitted when
// include_op is false, as over REST where the path says it), plus
// "reply_to" when non-empty: straight into the reused string, numbers with
// std::to_chars (doubles shortest round-trip, whole ones with ".0" as
// nlohmann writes them), strings escaped as JSON requires.
void EncodeRequest(const Request& request, bool include_op, std::string_view reply_to, std::string& out);

// Why a JSON transport cannot carry `request` (TransportSpec::too_large):
// its body above kMaxJsonBytes, or a batch whose reply could be (at
// kMaxReplyItemBytes an item), or "".
inline constexpr std::size_t kMaxReplyItemBytes = 64;
std::string TooLarge(const Request& request);
// The size EncodeRequest (with op) would give, counted item by item for a
// batch and stopped once above `stop_above` (then only "more than that").
std::size_t EncodedSize(const Request& request, std::string_view reply_to, std::size_t stop_above);

// Fills a reset reply from {"id":..,"result":..} / {"id":..,"score":..,"label":..}
// (kind kAdd / kScore, as `op` asked for) or {"error":..}. A reply that is
// not one of those, or not valid JSON at all, sets reply.error. It parses
// with simdjson's DOM parser, which validates the whole text; one decoder
// per client, as it keeps its buffers from call to call.
class ReplyDecoder {
 public:
  ReplyDecoder();
  ~ReplyDecoder();
  ReplyDecoder(const ReplyDecoder&) = delete;
  ReplyDecoder& operator=(const ReplyDecoder&) = delete;
  void Decode(std::string_view text, Op op, Reply& reply);

 private:
  struct Parser;  // simdjson's, kept out of this header (it is 1.2 MB)
  std::unique_ptr<Parser> parser_;
};

// The peer side: answers one request body. `op` comes from the REST path,
// or (nullopt) from the body's "op" field, which may also say "batch"
// (json_transports.md, Batches: one reply item per item, in order). Returns the reply body and an HTTP
// status: 200, or 400 with {"id":..,"error":..} for bad input. `reply_to`
// receives the body's "reply_to" (when asked for and present).
struct Answer {
  int http_status;
  std::string body;
  std::size_t calls = 0;  // the calls answered: a batch's items, 1, or 0 when refused whole
};
// `fallback_id` is used in an error reply when the body has no usable id of
// its own (the file tier knows it from the file's name).
Answer AnswerRequest(std::string_view body, std::optional<Op> op, std::string* reply_to = nullptr,
                     std::optional<uint64_t> fallback_id = std::nullopt);
// POST /batch: a body whose op is "batch", answered as AnswerRequest would;
// any other op is a 400.
Answer AnswerBatchBody(std::string_view body);

}  // namespace interop::json_codec
