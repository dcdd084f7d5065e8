// The harness's side of the three codecs (--codec): a Request as the bytes
// a tier carries, and those bytes back into a Reply. Messages stand alone
// where the mechanism frames them itself (a Redis value, a file), and ride
// in the raw frame's header where it does not (a byte stream, a shared
// memory slot): raw_frame.md, "Other codecs in the frame";
// json_transports.md, "Other codecs on Redis and files".
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/raw_frame.h"
#include "interop.pb.h"
#include "transports/json/json_codec.h"
#include "transports/transport.h"

namespace interop {

std::string_view CodecName(Codec codec);        // "raw", "json", "protobuf"
std::optional<Codec> ParseCodec(std::string_view name);

// One per client: it keeps its buffers, JSON parser and protobuf messages
// from call to call, so raw and JSON encode and decode without allocating in
// the steady state; protobuf's messages still allocate their sub-messages
// per call (libprotobuf's default, without an arena), as a user's would.
class MessageCodec {
 public:
  explicit MessageCodec(Codec codec) : codec_(codec) {}
  Codec codec() const { return codec_; }

  // The request as the codec's message alone: a whole raw frame, the JSON
  // request (with its op, and `reply_to` when not empty), or a serialized
  // interop.v1.Request.
  void Encode(const Request& request, std::string_view reply_to, std::string& out);
  // The request framed for a stream or a slot: the raw frame, or the frame
  // header (kind 0x20 / 0x30, the request's id) around its JSON or protobuf.
  void EncodeFramed(const Request& request, std::vector<uint8_t>& out);

  // A reply message alone into a reset Reply; `op` is the workload's (JSON
  // replies name no op).
  void Decode(std::string_view message, Op op, Reply& reply);
  // A framed reply of any kind (raw, 0xA0, 0xB0, an error frame).
  void DecodeFramed(const raw::Header& header, std::span<const uint8_t> payload, Op op, Reply& reply);

 private:
  Codec codec_;
  std::string text_;
  std::vector<uint8_t> frame_;  // a raw request before it becomes a Redis value or a file
  json_codec::ReplyDecoder json_;
  ::interop::v1::Request pb_request_;
  ::interop::v1::Reply pb_reply_;
};

// Why a tier speaking `codec` cannot carry `request`: its message (framed,
// on a stream or in a slot; alone, with a Redis reply_to) above the bound of
// its kind or codec, or "".
std::string MessageTooLarge(Codec codec, const Request& request, bool framed);
// The serialized size of the request's interop.v1.Request, counted item by
// item for a batch (never built whole) and stopped once above `stop_above`.
std::size_t ProtobufSize(const Request& request, std::size_t stop_above);

}  // namespace interop
