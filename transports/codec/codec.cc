#include "transports/codec/codec.h"

#include <cstring>

#include "transports/codec/protobuf_messages.h"
#include "transports/raw_stream/raw_messages.h"

namespace interop {

std::string_view CodecName(Codec codec) {
  switch (codec) {
    case Codec::kRaw: return "raw";
    case Codec::kJson: return "json";
    case Codec::kProtobuf: return "protobuf";
  }
  return "?";
}

std::optional<Codec> ParseCodec(std::string_view name) {
  for (Codec c : {Codec::kRaw, Codec::kJson, Codec::kProtobuf}) {
    if (CodecName(c) == name) return c;
  }
  return std::nullopt;
}

void MessageCodec::Encode(const Request& r, std::string_view reply_to, std::string& out) {
  switch (codec_) {
    case Codec::kRaw:
      EncodeRawRequest(r, frame_);
      out.assign(reinterpret_cast<const char*>(frame_.data()), frame_.size());
      return;
    case Codec::kJson: return json_codec::EncodeRequest(r, /*include_op=*/true, reply_to, out);
    case Codec::kProtobuf:
      protobuf_codec::ToProto(r, &pb_request_);
      pb_request_.SerializeToString(&out);
      return;
  }
}

void MessageCodec::EncodeFramed(const Request& r, std::vector<uint8_t>& out) {
  if (codec_ == Codec::kRaw) return EncodeRawRequest(r, out);
  const raw::Kind kind = codec_ == Codec::kJson ? raw::Kind::kJsonRequest : raw::Kind::kProtobufRequest;
  std::size_t len = 0;
  if (codec_ == Codec::kJson) {
    json_codec::EncodeRequest(r, /*include_op=*/true, {}, text_);
    len = text_.size();
    out.resize(raw::kHeaderSize + len);
    std::memcpy(out.data() + raw::kHeaderSize, text_.data(), len);
  } else {
    protobuf_codec::ToProto(r, &pb_request_);
    len = pb_request_.ByteSizeLong();
    out.resize(raw::kHeaderSize + len);
    pb_request_.SerializeWithCachedSizesToArray(out.data() + raw::kHeaderSize);  // sizes cached just above
  }
  raw::EncodeHeader(out.data(), kind, r.id, static_cast<uint32_t>(len));
}

void MessageCodec::Decode(std::string_view message, Op op, Reply& reply) {
  switch (codec_) {
    case Codec::kRaw: {
      raw::Header h{};
      if (message.size() < raw::kHeaderSize ||
          raw::DecodeHeader(reinterpret_cast<const uint8_t*>(message.data()), &h) != raw::HeaderStatus::kOk ||
          raw::kHeaderSize + h.payload_len != message.size()) {
        reply.error = "the reply is not one raw frame";
        return;
      }
      return DecodeRawReply(h, {reinterpret_cast<const uint8_t*>(message.data()) + raw::kHeaderSize, h.payload_len},
                            reply);
    }
    case Codec::kJson: return json_.Decode(message, op, reply);
    case Codec::kProtobuf:
      if (!pb_reply_.ParseFromArray(message.data(), static_cast<int>(message.size()))) {
        reply.error = "the reply is not a protobuf interop.v1.Reply";
        return;
      }
      return protobuf_codec::FromProto(pb_reply_, reply);
  }
}

void MessageCodec::DecodeFramed(const raw::Header& h, std::span<const uint8_t> payload, Op op, Reply& reply) {
  const std::string_view message(reinterpret_cast<const char*>(payload.data()), payload.size());
  if (h.kind == raw::Kind::kJsonReply) {
    json_.Decode(message, op, reply);
  } else if (h.kind == raw::Kind::kProtobufReply) {
    if (!pb_reply_.ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
      reply.error = "the reply is not a protobuf interop.v1.Reply";
      return;
    }
    protobuf_codec::FromProto(pb_reply_, reply);
  } else {
    return DecodeRawReply(h, payload, reply);
  }
  // The frame's id is the reply's: a message whose own id was lost (an
  // error for a body that did not parse) still answers its frame.
  if (reply.id == 0 && !reply.error.empty()) reply.id = h.id;
}

namespace {

std::size_t VarintSize(std::size_t n) {
  std::size_t bytes = 1;
  for (; n >= 0x80; n >>= 7) ++bytes;
  return bytes;
}

}  // namespace

std::size_t ProtobufSize(const Request& r, std::size_t stop_above) {
  ::interop::v1::Request message;
  if (!r.is_batch()) {
    protobuf_codec::ToProto(r, &message);
    return message.ByteSizeLong();
  }
  // Request{batch = 3: BatchRequest{id = 1, items = 2: Request...}}
  std::size_t batch = r.id ? 1 + VarintSize(r.id) : 0;
  for (const Request& item : r.items) {
    Request one = item;
    one.id = 0;  // items carry no ids
    protobuf_codec::ToProto(one, &message);
    const std::size_t size = message.ByteSizeLong();
    batch += 1 + VarintSize(size) + size;
    if (batch > stop_above) break;
  }
  return 1 + VarintSize(batch) + batch;
}

namespace {

std::string Above(const char* what, std::size_t size, std::size_t bound) {
  return std::string("its ") + what + " would be " + std::to_string(size) +
         " bytes or more (counting stops past the bound), above the bound of " + std::to_string(bound);
}

}  // namespace

std::string MessageTooLarge(Codec codec, const Request& r, bool framed) {
  switch (codec) {
    case Codec::kRaw: return RawFrameTooLarge(r);
    case Codec::kJson: {
      if (!framed) return json_codec::TooLarge(r);
      const std::size_t size = json_codec::EncodedSize(r, {}, raw::kMaxJsonPayload);
      if (size > raw::kMaxJsonPayload) return Above("JSON message", size, raw::kMaxJsonPayload);
      const std::size_t reply = 64 + r.items.size() * json_codec::kMaxReplyItemBytes;
      if (reply > raw::kMaxJsonPayload) {
        return "its JSON reply could be " + std::to_string(reply) + " bytes, above the bound of " +
               std::to_string(raw::kMaxJsonPayload);
      }
      return {};
    }
    case Codec::kProtobuf: {
      const std::size_t size = ProtobufSize(r, raw::kMaxBatchPayload);
      if (size <= raw::kMaxBatchPayload) return {};
      return Above("protobuf message", size, raw::kMaxBatchPayload);
    }
  }
  return {};
}

}  // namespace interop
