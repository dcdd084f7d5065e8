#include "transports/codec/message_answer.h"

#include <vector>

#include "common/raw_frame.h"
#include "transports/codec/protobuf_messages.h"
#include "transports/json/json_codec.h"
#include "transports/raw_stream/raw_answer.h"

namespace interop {

MessageAnswer AnswerMessage(Codec codec, std::string_view message, std::optional<uint64_t> fallback_id,
                            bool want_reply_to) {
  MessageAnswer a;
  switch (codec) {
    case Codec::kJson: {
      auto answer = json_codec::AnswerRequest(message, std::nullopt, want_reply_to ? &a.reply_to : nullptr,
                                              fallback_id);
      a.reply = std::move(answer.body);
      a.calls = answer.calls;
      if (answer.http_status != 200) a.error = a.reply;
      return a;  // an error reply without an id says "id": null, to reply_to as ever
    }
    case Codec::kProtobuf:
      a.calls = protobuf_codec::AnswerMessage(message, fallback_id.value_or(0), &a.reply, &a.id_known);
      if (a.calls == 0) a.error = "a protobuf request answered with an error";
      return a;
    case Codec::kRaw: {
      std::vector<uint8_t> out;
      const auto* bytes = reinterpret_cast<const uint8_t*>(message.data());
      raw::Header h{};
      const raw::HeaderStatus status =
          message.size() < raw::kHeaderSize ? raw::HeaderStatus::kBadMagicOrVersion : raw::DecodeHeader(bytes, &h);
      a.id_known = status != raw::HeaderStatus::kBadMagicOrVersion;
      if (status != raw::HeaderStatus::kOk || raw::kHeaderSize + h.payload_len != message.size()) {
        a.error = status == raw::HeaderStatus::kTooLong ? "payload_len above its kind's bound"
                                                         : "not one whole raw frame";
        raw::EncodeError(out, status == raw::HeaderStatus::kBadMagicOrVersion ? fallback_id.value_or(0) : h.id,
                         a.error);
      } else {
        std::vector<double> scratch;
        const RawAnswer answer = AnswerRawRequest(h, {bytes + raw::kHeaderSize, h.payload_len}, out, scratch);
        a.calls = answer.calls;
        a.error = answer.error;
      }
      a.reply.assign(reinterpret_cast<const char*>(out.data()), out.size());
      return a;
    }
  }
  return a;
}

}  // namespace interop
