# frozen_string_literal: true

# The raw binary frame (schemas/raw_frame.md), matching common/raw_frame.cc:
# the codec, and the request loop shared by the stream transports (unix, tcp,
# pipe), which see a connection as an IO pair (input, output). The frame is
# also the framing of the other codecs (raw_frame.md, "Other codecs in the
# frame"): a JSON (0x20) or protobuf (0x30) request is answered with a JSON
# (0xA0) or protobuf (0xB0) reply whatever the row's --codec, by
# json_message.rb and protobuf_message.rb (answer_message).
#
# Header, 24 bytes, little-endian: u32 magic, u8 version, u8 kind,
# u16 reserved, u64 id, u32 payload_len, u32 reserved.

require_relative "workload"

module RawFrame
  MAGIC = 0x46505349 # the bytes "ISPF"
  VERSION = 1
  HEADER_SIZE = 24
  MAX_PAYLOAD = 1_052_672 # 1 MiB + 4 KiB
  MAX_FEATURES = 131_072
  MAX_MODEL_BYTES = 1024
  MAX_ERROR_BYTES = 1024

  KIND_ADD_REQUEST = 0x01
  KIND_SCORE_REQUEST = 0x02
  KIND_ADD_REPLY = 0x81
  KIND_SCORE_REPLY = 0x82
  KIND_ERROR = 0xFF
  KIND_BATCH_REQUEST = 0x10
  KIND_BATCH_REPLY = 0x90
  # Batches: B calls in one frame (schemas/raw_frame.md, Batches).
  MAX_BATCH_ITEMS = 100_000
  MAX_BATCH_PAYLOAD = 16_777_216 # 16 MiB
  # Other codecs in the frame (raw_frame.md): the payload is one JSON or
  # protobuf message, answered whatever --codec says (the kind tells).
  KIND_JSON_REQUEST = 0x20
  KIND_JSON_REPLY = 0xA0
  KIND_PROTOBUF_REQUEST = 0x30
  KIND_PROTOBUF_REPLY = 0xB0
  MAX_JSON_PAYLOAD = 4_194_304 # MAX_JSON_BYTES (json_transports.md)

  HEADER_FORMAT = "L<CCS<Q<L<L<"
  ADD_REQUEST_FORMAT = "#{HEADER_FORMAT}q<q<".freeze
  ADD_REPLY_FORMAT = "#{HEADER_FORMAT}q<".freeze
  # "@0" rewrites a reused buffer from its start instead of appending.
  ADD_REPLY_INTO_FORMAT = "@0#{ADD_REPLY_FORMAT}".freeze
  SCORE_REPLY_FORMAT = "#{HEADER_FORMAT}EL<L<a*".freeze
  ERROR_FORMAT = "#{HEADER_FORMAT}a*".freeze

  BINARY = Encoding::BINARY
  UTF_8 = Encoding::UTF_8

  # A payload that does not parse; the message goes into the error reply.
  class FrameError < StandardError; end

  module_function

  # ---------------------------------------------------------------- codec

  def encode_header(kind, id, payload_len)
    [MAGIC, VERSION, kind, 0, id, payload_len, 0].pack(HEADER_FORMAT)
  end

  # The most payload a frame of this kind may declare (raw_frame.md,
  # Batches, Other codecs): MAX_BATCH_PAYLOAD for a batch or protobuf
  # request or reply, MAX_JSON_PAYLOAD for a JSON one, MAX_PAYLOAD for every
  # other kind. A reader checks it before it reads or allocates.
  def max_payload(kind)
    case kind
    when KIND_BATCH_REQUEST, KIND_BATCH_REPLY, KIND_PROTOBUF_REQUEST, KIND_PROTOBUF_REPLY then MAX_BATCH_PAYLOAD
    when KIND_JSON_REQUEST, KIND_JSON_REPLY then MAX_JSON_PAYLOAD
    else MAX_PAYLOAD
    end
  end

  # Returns [status, kind, id, payload_len]; status is :ok, :bad_magic (wrong
  # magic or version) or :too_long (payload_len over max_payload(kind): do
  # not read it).
  def decode_header(bytes)
    magic, version, kind, _r1, id, payload_len, _r2 = bytes.unpack(HEADER_FORMAT)
    return [:bad_magic, kind, id, payload_len] if magic != MAGIC || version != VERSION
    return [:too_long, kind, id, payload_len] if payload_len > max_payload(kind)

    [:ok, kind, id, payload_len]
  end

  def encode_add_request(id, x, y)
    [MAGIC, VERSION, KIND_ADD_REQUEST, 0, id, 16, 0, x, y].pack(ADD_REQUEST_FORMAT)
  end

  def encode_score_request(id, features, model)
    model = model.b
    n = features.size
    payload_len = 8 + 8 * n + model.bytesize
    head = [MAGIC, VERSION, KIND_SCORE_REQUEST, 0, id, payload_len, 0, n, model.bytesize]
           .pack("#{HEADER_FORMAT}L<L<")
    head << features.pack("E*") << model
  end

  def encode_add_reply(id, result)
    [MAGIC, VERSION, KIND_ADD_REPLY, 0, id, 8, 0, result].pack(ADD_REPLY_FORMAT)
  end

  def encode_score_reply(id, score, label)
    label = label.b
    [MAGIC, VERSION, KIND_SCORE_REPLY, 0, id, 16 + label.bytesize, 0,
     score, label.bytesize, 0, label].pack(SCORE_REPLY_FORMAT)
  end

  # The message is cut to MAX_ERROR_BYTES bytes, like the C++ encoder.
  def encode_error(id, message)
    msg = error_bytes(message)
    [MAGIC, VERSION, KIND_ERROR, 0, id, msg.bytesize, 0, msg].pack(ERROR_FORMAT)
  end

  # An error reply's payload: the message's bytes, cut to MAX_ERROR_BYTES.
  def error_bytes(message)
    msg = message.to_s.b
    msg.bytesize > MAX_ERROR_BYTES ? msg.byteslice(0, MAX_ERROR_BYTES) : msg
  end

  # Payload parsers: each returns the values or raises FrameError with the
  # message the C++ reference gives.

  def parse_add_request(payload)
    raise FrameError, "add request payload must be 16 bytes" if payload.bytesize != 16

    payload.unpack("q<q<")
  end

  # Returns [features (Array of Float), model (UTF-8 String)].
  def parse_score_request(payload)
    size = payload.bytesize
    raise FrameError, "score request payload shorter than 8 bytes" if size < 8

    n, model_len = payload.unpack("L<L<")
    raise FrameError, "score request has more than 131072 features" if n > MAX_FEATURES
    if model_len > MAX_MODEL_BYTES
      raise FrameError, "score request model name longer than 1024 bytes"
    end
    if size != 8 + 8 * n + model_len
      raise FrameError, "score request payload size does not match n and model_len"
    end

    model = payload.byteslice(8 + 8 * n, model_len).force_encoding(UTF_8)
    raise FrameError, "score request model name is not valid UTF-8" unless model.valid_encoding?

    features = n.zero? ? [] : payload.unpack("E#{n}", offset: 8)
    [features, model]
  end

  def parse_add_reply(payload)
    raise FrameError, "add reply payload must be 8 bytes" if payload.bytesize != 8

    payload.unpack1("q<")
  end

  # Returns [score, label].
  def parse_score_reply(payload)
    raise FrameError, "score reply payload shorter than 16 bytes" if payload.bytesize < 16

    score, len = payload.unpack("EL<")
    if payload.bytesize != 16 + len
      raise FrameError, "score reply payload size does not match label_len"
    end

    [score, payload.byteslice(16, len).force_encoding(UTF_8)]
  end

  # A batch frame (KIND_BATCH_REQUEST or KIND_BATCH_REPLY) of `items`, each
  # [item kind, payload] as that kind's own frame would carry it, padded
  # with zeros to a multiple of 8.
  def encode_batch(kind, id, items)
    body = +"".b
    body << [items.size, 0].pack("L<L<")
    items.each do |item_kind, payload|
      body << [item_kind, 0, 0, payload.bytesize].pack("CCS<L<") << payload.b
      body << ("\0".b * (-payload.bytesize % 8))
    end
    encode_header(kind, id, body.bytesize) + body
  end

  # The payload of one encoded frame: what a batch item of its kind holds.
  def payload_of(frame)
    frame.byteslice(HEADER_SIZE, frame.bytesize - HEADER_SIZE)
  end

  # The items of a batch payload as [kind, payload], after checking its shape
  # (check_batch); FrameError refuses the batch as a whole. Items are not
  # checked in themselves: that is each kind's parse_*.
  def parse_batch(payload)
    at = 8
    Array.new(check_batch(payload)) do
      len = payload.unpack1("L<", offset: at + 4)
      item = [payload.getbyte(at), payload.byteslice(at + 8, len)]
      at += 8 + len + (-len % 8)
      item
    end
  end

  # The item count of a batch payload, once its shape is right: size and
  # count in bounds, every item header and its padded payload inside the
  # payload, no byte left over. FrameError (refusing the whole batch) if not.
  # It only walks the item headers, so a reader can check the whole shape
  # before it answers any item, at a small cost per item.
  def check_batch(payload)
    size = payload.bytesize
    raise FrameError, "batch payload longer than #{MAX_BATCH_PAYLOAD} bytes" if size > MAX_BATCH_PAYLOAD
    raise FrameError, "batch payload shorter than 8 bytes" if size < 8

    count = payload.unpack1("L<")
    raise FrameError, "batch count #{count} not in 1..#{MAX_BATCH_ITEMS}" unless count.between?(1, MAX_BATCH_ITEMS)

    at = 8
    i = 0
    while i < count
      raise FrameError, "batch item #{i} overruns the payload" if size - at < 8

      len = payload.unpack1("L<", offset: at + 4)
      padded = len + (-len % 8)
      raise FrameError, "batch item #{i} overruns the payload" if size - at - 8 < padded

      at += 8 + padded
      i += 1
    end
    raise FrameError, "#{size - at} bytes after the last batch item" if at != size

    count
  end

  def valid_utf8?(bytes)
    bytes.dup.force_encoding(UTF_8).valid_encoding?
  end

  # -------------------------------------------------------- answering

  # The reply frame to one request frame of kind `kind` (not a batch), as
  # the single-call encoders make it; FrameError (the message for the error
  # reply) if the payload is wrong. The stream loop and shm answer a
  # well-formed add in place instead, with the same result, and answer
  # everything else here; so does a batch for each item that is not a
  # well-formed add, which is how an item gets exactly a single call's answer.
  def answer_call(kind, id, payload)
    if kind == KIND_ADD_REQUEST
      encode_add_reply(id, Workload.add(*parse_add_request(payload)))
    elsif kind == KIND_SCORE_REQUEST
      features, model = parse_score_request(payload)
      score, label = Workload.score(features, model)
      encode_score_reply(id, score, label)
    else
      raise FrameError, format("unknown kind 0x%02x", kind)
    end
  end

  # The reply frame to any request frame, its payload read whole: add,
  # score, a batch (answer_batch), a JSON or protobuf message
  # (answer_message), or an error frame for an unknown kind or a bad
  # payload. What a stream (serve), a shm slot and a raw Redis value or file
  # answer, after their own fast path for a well-formed add. One line on
  # `log` per bad request; never raises for bad input.
  def answer_frame(kind, id, payload, log = $stderr)
    case kind
    when KIND_BATCH_REQUEST then answer_batch(id, payload, log)
    when KIND_JSON_REQUEST, KIND_PROTOBUF_REQUEST then answer_message(kind, id, payload, log)
    else
      begin
        answer_call(kind, id, payload)
      rescue FrameError => e
        log_line(log, "bad request (id #{id}): #{e.message}")
        encode_error(id, e.message)
      end
    end
  end

  # A frame of kind `kind` whose payload is `body` (any encoding: packed as
  # bytes).
  def encode_frame(kind, id, body)
    [MAGIC, VERSION, kind, 0, id, body.bytesize, 0, body].pack(ERROR_FORMAT)
  end

  # The reply to a JSON (0x20) or protobuf (0x30) request frame: a frame of
  # the matching reply kind (0xA0, 0xB0) carrying what json_message.rb or
  # protobuf_message.rb answers for that message, header id = the request
  # header's id. A message that does not parse or breaks a bound gets its
  # codec's error reply, with the header's id when it has none of its own;
  # so does a message that meets a bug here. Only what no codec can answer
  # gets a raw error frame: the protobuf code not loadable. The codec modules
  # are loaded on first use, so a raw row loads neither.
  def answer_message(kind, id, payload, log = $stderr)
    if kind == KIND_JSON_REQUEST
      encode_frame(KIND_JSON_REPLY, id, json_reply(id, payload, log))
    else
      unless @protobuf_loaded
        require_relative "protobuf_message"
        ProtobufMessage.load
        @protobuf_loaded = true
      end
      _ok, body = ProtobufMessage.respond(payload, id, log)
      if body.bytesize > MAX_BATCH_PAYLOAD # not reachable with today's messages; a reader would refuse it
        log_line(log, "protobuf request (id #{id}): its #{body.bytesize}-byte reply is over #{MAX_BATCH_PAYLOAD}")
        body = ProtobufMessage.error_bytes(id, "the reply would be over #{MAX_BATCH_PAYLOAD} bytes")
      end
      encode_frame(KIND_PROTOBUF_REPLY, id, body)
    end
  rescue StandardError => e # a bug, or no protobuf code: one bad frame, never the stream
    log_line(log, "cannot answer a frame of kind 0x#{kind.to_s(16)} (id #{id}): #{e.class}: #{e.message}")
    message = "cannot answer this message: #{e.class}"
    begin
      if kind == KIND_JSON_REQUEST
        encode_frame(KIND_JSON_REPLY, id, JsonMessage.error_reply(id, message))
      else
        encode_frame(KIND_PROTOBUF_REPLY, id, ProtobufMessage.error_bytes(id, message))
      end
    rescue StandardError, ScriptError # the codec itself is missing
      encode_error(id, message)
    end
  end

  # The JSON reply body to a JSON request's bytes, as json_message.rb
  # answers it over Redis and files, its error reply taking `id` when the
  # request has no id of its own. A reply over MAX_JSON_PAYLOAD (a batch of
  # 100,000 score items can be) becomes an error reply: a reader would refuse
  # the longer frame.
  def json_reply(id, payload, log = $stderr)
    unless @json_loaded
      require_relative "json_message"
      @json_loaded = true
    end
    begin
      ok, body = JsonMessage.respond(payload, nil, fallback_id: id)
    ensure
      # Ruby's JSON.parse makes a binary String UTF-8 in place; the stream
      # loop reuses this buffer for the next payload.
      payload.force_encoding(BINARY) unless payload.frozen?
    end
    log_line(log, "bad JSON request (id #{id}): #{body}") unless ok
    if body.bytesize > MAX_JSON_PAYLOAD
      own = body[/\A\{"id":(\d+)/, 1]&.to_i || id
      log_line(log, "JSON request (id #{own}): its #{body.bytesize}-byte reply is over #{MAX_JSON_PAYLOAD}")
      body = JsonMessage.error_reply(own, "the reply would be #{body.bytesize} bytes, over #{MAX_JSON_PAYLOAD}")
    end
    body
  end

  ITEM_HEADER_FORMAT = "CCS<L<"
  # An add reply item, header and result: 16 bytes, so no padding.
  ADD_REPLY_ITEM_FORMAT = "#{ITEM_HEADER_FORMAT}q<".freeze
  # A batch reply's header and its count word (the reserved one after it).
  BATCH_HEADER_FORMAT = "#{HEADER_FORMAT}L<L<".freeze
  ZEROS = ("\0" * 8).b.freeze

  # The reply frame to a batch request of `id` whose payload is `payload`:
  # a batch reply (0x90) answering item i with item i, or one error frame
  # when the batch's shape is wrong (checked before any item is answered).
  # An item wrong in itself becomes an error item (0xFF) and the others are
  # still answered. One line on `log` per refused batch, and one per batch
  # with wrong items (naming the first), not one per item: a batch of
  # 100,000 wrong items must not write 100,000 lines.
  def answer_batch(id, payload, log = $stderr)
    begin
      count = check_batch(payload)
    rescue FrameError => e
      log_line(log, "bad batch (id #{id}): #{e.message}")
      return encode_error(id, e.message)
    end

    # Add replies are 16 bytes an item: the usual batch is one allocation.
    out = String.new(capacity: HEADER_SIZE + 8 + (16 * count), encoding: BINARY)
    [MAGIC, VERSION, KIND_BATCH_REPLY, 0, id, 0, 0, count, 0].pack(BATCH_HEADER_FORMAT, buffer: out)
    bad = 0
    first_bad = nil
    at = 8
    i = 0
    while i < count
      kind = payload.getbyte(at)
      len = payload.unpack1("L<", offset: at + 4)
      if kind == KIND_ADD_REQUEST && len == 16
        # The stream loop's fast path, item-sized.
        x, y = payload.unpack("q<q<", offset: at + 8)
        [KIND_ADD_REPLY, 0, 0, 8, Workload.add(x, y)].pack(ADD_REPLY_ITEM_FORMAT, buffer: out)
      else
        begin
          frame = answer_call(kind, 0, payload.byteslice(at + 8, len))
        rescue FrameError => e
          bad += 1
          first_bad ||= "item #{i}: #{e.message}"
          frame = encode_error(0, e.message)
        end
        # The reply frame's kind and payload become the item.
        reply_len = frame.bytesize - HEADER_SIZE
        [frame.getbyte(5), 0, 0, reply_len].pack(ITEM_HEADER_FORMAT, buffer: out)
        out << frame.byteslice(HEADER_SIZE, reply_len)
        out << ZEROS.byteslice(0, -reply_len % 8) unless (reply_len % 8).zero?
      end
      at += 8 + len + (-len % 8)
      i += 1
    end
    log_line(log, "batch (id #{id}): #{bad} of #{count} items wrong, the first #{first_bad}") if bad.positive?

    reply_len = out.bytesize - HEADER_SIZE
    # Cannot happen with today's messages (an error item is at most 72
    # bytes, 100,000 of them 7.2 MB), but a reader would refuse a longer frame.
    if reply_len > MAX_BATCH_PAYLOAD
      message = "the batch reply would be #{reply_len} bytes, over #{MAX_BATCH_PAYLOAD}"
      log_line(log, "bad batch (id #{id}): #{message}")
      return encode_error(id, message)
    end

    out[16, 4] = [reply_len].pack("L<")
    out
  end

  # ---------------------------------------------------- serving a stream

  # Serves frames from `input`, replying on `output`, until the stream ends or
  # must be dropped. Returns why it stopped:
  #   :eof        clean end of stream between frames
  #   :truncated  end of stream in the middle of a frame (no reply)
  #   :bad_magic  wrong magic or version (error reply with id 0 sent)
  #   :too_long   payload_len over max_payload(kind) (error reply sent,
  #               payload unread)
  # Bad payloads get an error reply and serving goes on. Every bad request
  # logs one line to `log`. I/O errors (a reset peer, ...) propagate.
  # A batch request (0x10) is answered whole, in this thread, by answer_batch;
  # a JSON or protobuf request (0x20, 0x30) by answer_message, whatever the
  # row's --codec (the kind says which).
  def serve(input, output, echo: false, log: $stderr)
    return serve_echo(input, output, log) if echo

    header = String.new(capacity: HEADER_SIZE, encoding: BINARY)
    payload = String.new(capacity: 4096, encoding: BINARY)
    reply = String.new(capacity: 64, encoding: BINARY)
    while true
      return :eof unless input.read(HEADER_SIZE, header)
      return truncated(log, "header") if header.bytesize < HEADER_SIZE

      magic, version, kind, _r1, id, len, _r2 = header.unpack(HEADER_FORMAT)
      if magic != MAGIC || version != VERSION
        return refuse(output, log, 0, :bad_magic,
                      format("bad magic 0x%08x or version %d", magic, version))
      end
      # One comparison for every frame of at most MAX_PAYLOAD; only a longer
      # one looks at its kind (a batch may be up to MAX_BATCH_PAYLOAD).
      if len > MAX_PAYLOAD && len > max_payload(kind)
        return refuse(output, log, id, :too_long,
                      "payload_len #{len} exceeds #{max_payload(kind)}")
      end

      if len.zero?
        payload.clear
      else
        got = input.read(len, payload)
        return truncated(log, "payload") if got.nil? || payload.bytesize < len
      end

      if kind == KIND_ADD_REQUEST && len == 16
        x, y = payload.unpack("q<q<")
        [MAGIC, VERSION, KIND_ADD_REPLY, 0, id, 8, 0, Workload.add(x, y)]
          .pack(ADD_REPLY_INTO_FORMAT, buffer: reply)
        output.write(reply)
      else
        output.write(answer_frame(kind, id, payload, log))
      end
    end
  end

  # The --echo floor of unix, tcp and pipe: each frame (header, then
  # payload_len bytes) goes back unchanged, with no decoding. payload_len is
  # still bounded by the header's kind before anything is read, so a batch
  # frame of up to MAX_BATCH_PAYLOAD comes back too.
  def serve_echo(input, output, log = $stderr)
    header = String.new(capacity: HEADER_SIZE, encoding: BINARY)
    payload = String.new(capacity: 4096, encoding: BINARY)
    while true
      return :eof unless input.read(HEADER_SIZE, header)
      return truncated(log, "header") if header.bytesize < HEADER_SIZE

      len = header.unpack1("L<", offset: 16)
      if len > MAX_PAYLOAD && len > max_payload(header.getbyte(5))
        return refuse(output, log, header.unpack1("Q<", offset: 8), :too_long,
                      "payload_len #{len} exceeds #{max_payload(header.getbyte(5))}")
      end

      if len.zero?
        output.write(header)
      else
        got = input.read(len, payload)
        return truncated(log, "payload") if got.nil? || payload.bytesize < len

        output.write(header, payload)
      end
    end
  end

  # One line on `log`, whatever the message holds (bytes from a bad request).
  def log_line(log, message)
    log.write("ruby peer: #{message.to_s.b.tr("\r\n", '  ')}\n")
  rescue StandardError
    nil
  end

  # Error reply, then the caller drops the stream.
  def refuse(output, log, id, status, message)
    log_line(log, "#{message}; closing the connection")
    begin
      output.write(encode_error(id, message))
    rescue StandardError
      nil # the client may be gone already; we are closing anyway
    end
    status
  end

  def truncated(log, where)
    log_line(log, "end of stream inside a frame #{where}; closing the connection")
    :truncated
  end

  # Accepts connections on `server` forever, serving each in its own thread.
  # `setup` (optional) is called with each accepted socket first (tcp sets
  # TCP_NODELAY there). Nothing a connection does can kill the peer.
  def serve_listener(server, echo: false, log: $stderr, setup: nil)
    while true
      begin
        sock = server.accept
      rescue IOError, SystemCallError => e
        raise if server.closed?

        log_line(log, "accept failed: #{e.class}: #{e.message}")
        sleep 0.05 # e.g. EMFILE: do not spin
        next
      end
      begin
        Thread.new(sock) { |s| serve_connection(s, echo: echo, log: log, setup: setup) }
      rescue ThreadError => e # cannot start a thread: drop this client, keep serving
        log_line(log, "cannot serve a connection: #{e.message}")
        sock.close
      end
    end
  end

  def serve_connection(sock, echo: false, log: $stderr, setup: nil)
    setup&.call(sock)
    serve(sock, sock, echo: echo, log: log)
  rescue Errno::ECONNRESET, Errno::EPIPE, Errno::ENOTCONN
    nil # the client went away
  rescue Exception => e # one bad client must not kill the peer
    log_line(log, "connection error: #{e.class}: #{e.message.lines.first&.chomp}")
  ensure
    begin
      sock.close
    rescue StandardError
      nil
    end
  end
end
