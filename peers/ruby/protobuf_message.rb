# frozen_string_literal: true

# The protobuf codec on the peer side (schemas/interop.proto), mirroring the
# C++ transports/codec/protobuf_messages.cc so that every peer answers a
# message with the same bytes: the checks, the answer to one call, to a
# batch, and to a serialized interop.v1.Request. Shared by the gRPC server
# (transports/grpc_server.rb) and every tier that carries opaque bytes with
# the protobuf codec (frames of kind 0x30 on unix/tcp/pipe/shm, Redis values
# and `.pb` files).
#
# The replies, as the C++ peer writes them (test_vectors.json, codecs):
#   add    Reply{add: AddReply{id: req.add.id, result}, id: req.add.id}
#   score  Reply{score: ScoreReply{id, score, label}, id: req.score.id}
#   batch  Reply{batch: BatchReply{id, items: [Reply{add: AddReply{result}}, ...]}, id: batch id}
#          (items carry no ids: their place is their identity)
#   error  Reply{error: "...", id}
#
# ruby-google-protobuf 3.21 (upb) refuses to decode a whole message in which
# a `string` field (a score's model) is not valid UTF-8: such a message is
# "not a protobuf interop.v1.Request" as a whole, and gets one error reply
# with the fallback id (the frame header's, the file name's), not an answer
# naming the bad item. C++ protobuf (proto3 strings are checked on parse)
# refuses it whole too.
#
# The generated code (interop_pb.rb) is made by the build into
# $INTEROP_GENERATED_DIR/ruby (default <repo>/build/generated/ruby) and loaded
# on first use (load): only the protobuf runtime, not grpc.

require_relative "raw_frame"
require_relative "workload"

module ProtobufMessage
  REPO = File.expand_path("../..", __dir__)
  MAX_FEATURES = RawFrame::MAX_FEATURES
  MAX_MODEL_BYTES = RawFrame::MAX_MODEL_BYTES
  MAX_BATCH_ITEMS = RawFrame::MAX_BATCH_ITEMS
  # A serialized Request is at most MAX_BATCH_PAYLOAD (raw_frame.md, "Other
  # codecs in the frame"; json_transports.md): checked before decoding.
  MAX_MESSAGE_BYTES = RawFrame::MAX_BATCH_PAYLOAD
  NOT_A_REQUEST = "not a protobuf interop.v1.Request (or above 16 MiB)"
  NO_OP = "request carries neither add, score nor batch"

  LOCK = Mutex.new
  @pb = nil

  module_function

  # The generated directory ($INTEROP_GENERATED_DIR/ruby).
  def generated_dir
    base = ENV["INTEROP_GENERATED_DIR"]
    base = File.join(REPO, "build", "generated") if base.nil? || base.empty?
    File.join(base, "ruby")
  end

  # Loads the generated messages once (thread-safe: stream connections are
  # served by threads that may meet their first protobuf frame at once) and
  # returns the module ::Interop::V1. IOError when they cannot be loaded.
  def load
    pb = @pb
    return pb if pb

    LOCK.synchronize do
      return @pb if @pb

      dir = generated_dir
      unless File.file?(File.join(dir, "interop_pb.rb"))
        raise IOError, "generated protobuf code not found in #{dir} (build the project, or set INTEROP_GENERATED_DIR)"
      end

      # interop_services_pb.rb (gRPC) does `require 'interop_pb'`: the same
      # directory on $LOAD_PATH makes both load one and the same file.
      $LOAD_PATH.unshift(dir) unless $LOAD_PATH.include?(dir)
      begin
        require "interop_pb"
      rescue LoadError => e # a ScriptError: callers rescue StandardError
        raise IOError, "cannot load the protobuf runtime (Debian's ruby-google-protobuf) or the code " \
                       "generated in #{dir}: #{e.message}"
      end
      @pb = ::Interop::V1
    end
  end

  # nil when the score request is within bounds, else why not.
  def check_score(req)
    return "more than #{MAX_FEATURES} features" if req.features.size > MAX_FEATURES

    model = req.model
    return "model name longer than #{MAX_MODEL_BYTES} bytes" if model.bytesize > MAX_MODEL_BYTES
    return "model name is not valid UTF-8" unless model.valid_encoding?

    nil
  end

  # nil when the batch's shape is right, else why not.
  def check_batch(batch)
    n = batch.items.size
    "a batch has 1 to #{MAX_BATCH_ITEMS} items, this one #{n}" unless n >= 1 && n <= MAX_BATCH_ITEMS
  end

  # The reply items to a batch of the right shape, item i answering item
  # i as a single call would (an error item where it would fail), each as a
  # Hash for BatchReply.new: protobuf 3.21 builds Hash-given submessages
  # inside their parent with no Ruby object of their own, ~2 us an item here,
  # where a Reply.new per item measured 12 to 50 us an item in a batch of
  # 100,000. One log line for a batch with wrong items, naming the first, not
  # one per item.
  def batch_items(batch, log = $stderr)
    bad = 0
    first_bad = nil
    replies = batch.items.each_with_index.map do |item, i|
      case item.op
      when :add
        r = item.add
        { add: { result: Workload.add(r.x, r.y) } }
      when :score
        r = item.score
        if (why = check_score(r))
          bad += 1
          first_bad ||= "item #{i}: #{why}"
          { error: why }
        else
          score, label = Workload.score(r.features.to_a, r.model)
          { score: { score: score, label: label } }
        end
      else
        why = item.op == :batch ? "a batch cannot be an item of a batch" : "item carries neither add nor score"
        bad += 1
        first_bad ||= "item #{i}: #{why}"
        { error: why }
      end
    end
    if bad.positive?
      RawFrame.log_line(log, "batch (id #{batch.id}): #{bad} of #{replies.size} items wrong, " \
                             "the first #{first_bad}")
    end
    replies
  end

  # The Reply to one decoded Request (a stream's message, a Redis value, a
  # file, a frame's payload). A Request with none of add, score and batch
  # set has no id of its own: its error Reply takes `fallback_id`. One line
  # on `log` for an error reply. (The caller decides what to do with an
  # error it cannot address: see respond.)
  def reply_for(req, fallback_id = 0, log = $stderr)
    pb = @pb || load
    case req.op
    when :add
      r = req.add
      pb::Reply.new(id: r.id, add: { id: r.id, result: Workload.add(r.x, r.y) })
    when :score
      r = req.score
      if (bad = check_score(r))
        RawFrame.log_line(log, "bad request (id #{r.id}): #{bad}")
        pb::Reply.new(id: r.id, error: bad)
      else
        score, label = Workload.score(r.features.to_a, r.model)
        pb::Reply.new(id: r.id, score: { id: r.id, score: score, label: label })
      end
    when :batch
      b = req.batch
      if (bad = check_batch(b))
        RawFrame.log_line(log, "bad batch (id #{b.id}): #{bad}")
        pb::Reply.new(id: b.id, error: bad)
      else
        pb::Reply.new(id: b.id, batch: { id: b.id, items: batch_items(b, log) })
      end
    else
      RawFrame.log_line(log, "bad request (id #{fallback_id.inspect}): #{NO_OP}")
      pb::Reply.new(id: fallback_id || 0, error: NO_OP)
    end
  end

  # The error Reply's bytes for `id`, the message cut to 1,024 bytes (as the
  # raw and JSON error replies are) and made valid UTF-8 (a protobuf string
  # must be, or the harness could not decode the reply).
  def error_bytes(id, message)
    pb = @pb || load
    text = RawFrame.error_bytes(message).force_encoding(Encoding::UTF_8).scrub("")
    pb::Reply.encode(pb::Reply.new(id: id, error: text))
  end

  # [ok, reply bytes] for the bytes of one serialized Request: ok is false
  # for an error reply. A message that is over MAX_MESSAGE_BYTES or does not
  # decode, or that carries no call, has no id of its own: it gets the error
  # Reply with `fallback_id` (the frame header's id, the file name's), or,
  # when fallback_id is nil (a Redis value), no reply at all: [false, nil].
  # Every error logs one line on `log`. Never raises for bad input.
  def respond(bytes, fallback_id, log = $stderr)
    pb = @pb || load
    req = nil
    if bytes.bytesize <= MAX_MESSAGE_BYTES
      begin
        req = pb::Request.decode(bytes)
      rescue Google::Protobuf::ParseError, ArgumentError, RangeError, TypeError
        req = nil
      end
    end
    if req.nil? || (req.op.nil? && fallback_id.nil?)
      why = req.nil? ? "#{NOT_A_REQUEST}; #{bytes.bytesize} bytes" : NO_OP
      if fallback_id.nil?
        RawFrame.log_line(log, "dropped a protobuf message with no id to answer: #{why}")
        return [false, nil]
      end
      RawFrame.log_line(log, "bad request (id #{fallback_id}): #{why}")
      return [false, error_bytes(fallback_id, req.nil? ? NOT_A_REQUEST : NO_OP)]
    end
    reply = reply_for(req, fallback_id, log)
    [reply.result != :error, pb::Reply.encode(reply)]
  end
end
