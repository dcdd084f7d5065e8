# frozen_string_literal: true

# The JSON messages of the rest, redis and file tiers
# (schemas/json_transports.md, schemas/interop.schema.json): checks, the
# workload call, the reply bytes. Mirrors peers/python/json_message.py.
#
# Requests are bounded before anything is computed: at most MAX_JSON_BYTES of
# JSON, MAX_FEATURES features, a model of at most MAX_MODEL_BYTES UTF-8 bytes,
# x and y within int64, id within uint64. Floats are written with Float#to_s,
# which is shortest-round-trip, so the reader parses the very bits we computed.
#
# Feature items are not checked one by one (that would cost more than the
# score): the score itself raises TypeError or NoMethodError on a string,
# null, boolean, array or object, and that becomes an error reply here.

require "json"
require_relative "raw_frame"
require_relative "workload"

module JsonMessage
  MAX_JSON_BYTES = 4_194_304 # 4 MiB
  MAX_FEATURES = RawFrame::MAX_FEATURES
  MAX_MODEL_BYTES = RawFrame::MAX_MODEL_BYTES
  MAX_ERROR_BYTES = RawFrame::MAX_ERROR_BYTES
  INT64_MIN = Workload::INT64_MIN
  INT64_MAX = Workload::INT64_MAX
  UINT64_MAX = (1 << 64) - 1
  OPS = %w[add score].freeze
  MAX_BATCH_ITEMS = RawFrame::MAX_BATCH_ITEMS

  # A request that breaks the JSON contract; its text goes in the error reply.
  class MessageError < StandardError; end

  module_function

  # The request object (a Hash) from JSON bytes; MessageError if it is too
  # long, not JSON, or not an object.
  def decode(data)
    if data.bytesize > MAX_JSON_BYTES
      raise MessageError, "request is longer than #{MAX_JSON_BYTES} bytes"
    end

    begin
      msg = JSON.parse(data)
    rescue JSON::ParserError => e
      raise MessageError, "malformed JSON: #{e.message[0, 200].gsub(/[[:cntrl:]]/, ' ')}"
    rescue JSON::NestingError
      raise MessageError, "request JSON is nested too deeply"
    end
    raise MessageError, "request is not a JSON object" unless msg.is_a?(Hash)

    msg
  end

  # ------------------------------------------------------------ field checks

  def check_id(value)
    unless value.is_a?(Integer) && value >= 0 && value <= UINT64_MAX
      raise MessageError, "id must be an integer within uint64"
    end

    value
  end

  # The request's id if it has a valid one (for error replies), else nil.
  def request_id(msg)
    value = msg["id"] if msg.is_a?(Hash)
    value.is_a?(Integer) && value >= 0 && value <= UINT64_MAX ? value : nil
  end

  def check_int64(name, value)
    unless value.is_a?(Integer) && value >= INT64_MIN && value <= INT64_MAX
      raise MessageError, "#{name} must be an integer within int64"
    end

    value
  end

  def check_features(value)
    raise MessageError, "features must be an array of numbers" unless value.is_a?(Array)
    raise MessageError, "more than #{MAX_FEATURES} features" if value.size > MAX_FEATURES

    value
  end

  def check_model(value)
    raise MessageError, "model must be a string" unless value.is_a?(String)
    if value.bytesize > MAX_MODEL_BYTES
      raise MessageError, "model is longer than #{MAX_MODEL_BYTES} UTF-8 bytes"
    end
    raise MessageError, "model is not valid UTF-8" unless value.valid_encoding?

    value
  end

  # ---------------------------------------------------------------- replies

  # {"id":..,"result":..}: x + y wrapped like int64 (Workload.add).
  def add_reply(id, x, y)
    %({"id":#{id},#{add_fields(x, y)}})
  end

  # {"id":..,"score":..,"label":..}; MessageError for non-numeric features.
  def score_reply(id, features, model)
    %({"id":#{id},#{score_fields(features, model)}})
  end

  def add_fields(x, y)
    %("result":#{Workload.add(x, y)})
  end

  def score_fields(features, model)
    begin
      s, label = Workload.score(features, model)
    rescue TypeError, NoMethodError
      raise MessageError, "features must be an array of numbers"
    end
    # NaN from inf - inf (features like 1e400); JSON cannot carry it.
    raise MessageError, "score is not a finite number (features overflow)" unless s.finite?

    %("score":#{s},"label":"#{label}")
  end

  # The message cut to 1024 UTF-8 bytes.
  def error_text(message)
    msg = message.to_s.b
    msg = msg.byteslice(0, MAX_ERROR_BYTES) if msg.bytesize > MAX_ERROR_BYTES
    msg.force_encoding(Encoding::UTF_8).scrub("")
  end

  # {"id": id or null, "error": message}; the message is cut to 1024 bytes.
  def error_reply(id, message)
    JSON.generate({ "id" => id, "error" => error_text(message) })
  end

  # The reply to a decoded request. `op` is the operation when the transport
  # implies it (REST's path); otherwise the request's "op" field says it, and
  # may say "batch" (json_transports.md, Batches). MessageError on a missing
  # or bad field. A batch's body must say "batch" itself, also where the
  # path implies it (POST /batch): a single call sent there by mistake is
  # refused, not read as a batch without items.
  def answer(msg, op = nil)
    if op.nil?
      op = msg["op"]
      return answer_batch(check_id(msg["id"]), msg) if op == "batch"
      raise MessageError, 'op must be "add", "score" or "batch"' unless OPS.include?(op)
    elsif op == "batch"
      raise MessageError, 'op must be "batch" here' unless msg["op"] == "batch"

      return answer_batch(check_id(fetch(msg, "id")), msg)
    elsif msg.key?("op") && msg["op"] != op
      raise MessageError, %(op must be "#{op}" here)
    end
    %({"id":#{check_id(fetch(msg, "id"))},#{call_fields(msg, op)}})
  end

  def call_fields(msg, op)
    if op == "add"
      add_fields(check_int64("x", fetch(msg, "x")), check_int64("y", fetch(msg, "y")))
    else
      score_fields(check_features(fetch(msg, "features")), check_model(fetch(msg, "model")))
    end
  end

  # {"id":..,"items":[..]} for {"op":"batch","items":[..]}: one reply item per
  # item, in order, a bad call being that item's {"error":..}; a wrong shape
  # (not a list of 1..MAX_BATCH_ITEMS objects) refuses the whole batch.
  def answer_batch(id, msg)
    items = msg["items"]
    unless items.is_a?(Array) && items.size.between?(1, MAX_BATCH_ITEMS)
      raise MessageError, "items must be an array of 1 to #{MAX_BATCH_ITEMS} calls"
    end
    raise MessageError, "every batch item must be a JSON object" unless items.all?(Hash)

    parts = items.map do |item|
      op = item["op"]
      raise MessageError, 'op must be "add" or "score"' unless OPS.include?(op)

      "{#{call_fields(item, op)}}"
    rescue MessageError => e
      JSON.generate({ "error" => error_text(e.message) })
    end
    %({"id":#{id},"items":[#{parts.join(',')}]})
  end

  def fetch(msg, key)
    msg.fetch(key) { raise MessageError, "missing field #{key.inspect}" }
  end

  # [ok, reply body] for request bytes: an error reply for bad ones (never
  # raises MessageError), with the request's own id, else `fallback_id`
  # (a frame header's id; nil gives "id": null).
  def respond(data, op = nil, fallback_id: nil)
    msg = nil
    msg = decode(data)
    [true, answer(msg, op)]
  rescue MessageError => e
    [false, error_reply(request_id(msg) || fallback_id, e.message)]
  end
end
