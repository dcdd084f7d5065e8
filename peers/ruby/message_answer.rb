# frozen_string_literal: true

# The answer to one message that stands alone, a Redis value or a file, in
# the row's codec other than JSON (schemas/json_transports.md, "Other codecs
# on Redis and files"), mirroring the C++ transports/codec/message_answer.cc:
#   raw       one whole raw frame (raw_frame.md: header and payload), answered
#             exactly as on a stream (RawFrame.answer_frame: add, score,
#             batches, and JSON / protobuf frames too); the reply one frame
#   protobuf  one serialized interop.v1.Request; the reply a serialized Reply
# JSON stays with each transport (Redis reads its reply_to, a file has none).
#
# A message that cannot be answered gets its codec's error reply when its id
# is known: a raw frame's header id (once magic and version are right), else
# the `fallback_id` the transport knows (a file's name); with no id at all
# (fallback_id nil: a Redis value) there is no reply, only a line on stderr.

require_relative "raw_frame"
require_relative "workload"
require_relative "protobuf_message"

module MessageAnswer
  R = RawFrame
  # File names (json_transports.md): req-ID.<ext>, rep-ID.<ext>.
  EXTENSIONS = { "json" => ".json", "raw" => ".raw", "protobuf" => ".pb" }.freeze
  # The most bytes a message of each codec may hold: JSON's MAX_JSON_BYTES,
  # a raw frame's header and its largest payload (a batch's), a protobuf
  # message's MAX_BATCH_PAYLOAD.
  MAX_BYTES = { "json" => R::MAX_JSON_PAYLOAD, "raw" => R::HEADER_SIZE + R::MAX_BATCH_PAYLOAD,
                "protobuf" => R::MAX_BATCH_PAYLOAD }.freeze

  module_function

  # `bytes` as a binary String, copied only when it cannot be relabelled.
  def binary(bytes)
    return bytes if bytes.encoding == Encoding::BINARY

    bytes.frozen? ? bytes.b : bytes.force_encoding(Encoding::BINARY)
  end

  # The reply bytes to `bytes` in `codec` ("raw" or "protobuf"), or nil when
  # there is no id to answer (logged). Never raises for bad input.
  def answer(codec, bytes, fallback_id, log = $stderr)
    bytes = binary(bytes)
    if codec == "raw"
      raw(bytes, fallback_id, log)
    else
      ProtobufMessage.respond(bytes, fallback_id, log)[1]
    end
  end

  # The reply frame to one whole raw frame, as a stream answers it; a value
  # that is not one whole frame (too short, a payload_len over its kind's
  # bound, or bytes before or after the payload it declares) gets an error
  # frame: with its header id once magic and version are right, else with
  # fallback_id, else none.
  def raw(bytes, fallback_id, log = $stderr)
    size = bytes.bytesize
    id = fallback_id
    if size < R::HEADER_SIZE
      problem = "not a raw frame: #{size} bytes, shorter than its #{R::HEADER_SIZE}-byte header"
    else
      magic, version, kind, _r1, header_id, len, _r2 = bytes.unpack(R::HEADER_FORMAT)
      if magic != R::MAGIC || version != R::VERSION
        problem = format("not a raw frame: bad magic 0x%08x or version %d", magic, version)
      else
        id = header_id
        if len > (max = R.max_payload(kind))
          problem = "payload_len #{len} exceeds #{max}"
        elsif size != R::HEADER_SIZE + len
          problem = "not one whole raw frame: #{size} bytes, its header says #{R::HEADER_SIZE + len}"
        elsif kind == R::KIND_ADD_REQUEST && len == 16
          return R.encode_add_reply(id, Workload.add(*bytes.unpack("q<q<", offset: R::HEADER_SIZE)))
        else
          return R.answer_frame(kind, id, bytes.byteslice(R::HEADER_SIZE, len), log)
        end
      end
    end
    if id.nil?
      R.log_line(log, "dropped a message with no id to answer: #{problem}")
      return nil
    end
    R.log_line(log, "bad request (id #{id}): #{problem}")
    R.encode_error(id, problem)
  end

  # The codec's error reply to request `id` (a file that could not be read
  # whole, for one).
  def error(codec, id, message)
    case codec
    when "raw" then R.encode_error(id, message)
    when "protobuf" then ProtobufMessage.error_bytes(id, message)
    else
      require_relative "json_message"
      JsonMessage.error_reply(id, message)
    end
  end
end
