# frozen_string_literal: true

# The raw binary frame (schemas/raw_frame.md), matching common/raw_frame.cc:
# the codec, and the request loop shared by the stream transports (unix, tcp,
# pipe), which see a connection as an IO pair (input, output).
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

  # Returns [status, kind, id, payload_len]; status is :ok, :bad_magic (wrong
  # magic or version) or :too_long (payload_len > MAX_PAYLOAD: do not read it).
  def decode_header(bytes)
    magic, version, kind, _r1, id, payload_len, _r2 = bytes.unpack(HEADER_FORMAT)
    return [:bad_magic, kind, id, payload_len] if magic != MAGIC || version != VERSION
    return [:too_long, kind, id, payload_len] if payload_len > MAX_PAYLOAD

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
    msg = message.b
    msg = msg.byteslice(0, MAX_ERROR_BYTES) if msg.bytesize > MAX_ERROR_BYTES
    [MAGIC, VERSION, KIND_ERROR, 0, id, msg.bytesize, 0, msg].pack(ERROR_FORMAT)
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
  # (count in bounds, every item inside, nothing left over); FrameError
  # refuses the batch as a whole. Items are not checked in themselves: that
  # is each kind's parse_*.
  def parse_batch(payload)
    size = payload.bytesize
    raise FrameError, "batch payload longer than #{MAX_BATCH_PAYLOAD} bytes" if size > MAX_BATCH_PAYLOAD
    raise FrameError, "batch payload shorter than 8 bytes" if size < 8

    count = payload.unpack1("L<")
    raise FrameError, "batch count #{count} not in 1..#{MAX_BATCH_ITEMS}" unless count.between?(1, MAX_BATCH_ITEMS)

    at = 8
    items = Array.new(count) do |i|
      raise FrameError, "batch item #{i} overruns the payload" if size - at < 8

      kind, _r1, _r2, len = payload.unpack("CCS<L<", offset: at)
      padded = len + (-len % 8)
      raise FrameError, "batch item #{i} overruns the payload" if size - at - 8 < padded

      item = [kind, payload.byteslice(at + 8, len)]
      at += 8 + padded
      item
    end
    raise FrameError, "#{size - at} bytes after the last batch item" if at != size

    items
  end

  def valid_utf8?(bytes)
    bytes.dup.force_encoding(UTF_8).valid_encoding?
  end

  # ---------------------------------------------------- serving a stream

  # Serves frames from `input`, replying on `output`, until the stream ends or
  # must be dropped. Returns why it stopped:
  #   :eof        clean end of stream between frames
  #   :truncated  end of stream in the middle of a frame (no reply)
  #   :bad_magic  wrong magic or version (error reply with id 0 sent)
  #   :too_long   payload_len > MAX_PAYLOAD (error reply sent, payload unread)
  # Bad payloads get an error reply and serving goes on. Every bad request
  # logs one line to `log`. I/O errors (a reset peer, ...) propagate.
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
      if len > MAX_PAYLOAD
        return refuse(output, log, id, :too_long,
                      "payload_len #{len} exceeds #{MAX_PAYLOAD}")
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
      elsif kind == KIND_SCORE_REQUEST
        begin
          features, model = parse_score_request(payload)
        rescue FrameError => e
          error_reply(output, log, id, e.message)
          next
        end
        score, label = Workload.score(features, model)
        output.write(encode_score_reply(id, score, label))
      elsif kind == KIND_ADD_REQUEST
        error_reply(output, log, id, "add request payload must be 16 bytes")
      else
        error_reply(output, log, id, format("unknown kind 0x%02x", kind))
      end
    end
  end

  # The --echo floor of unix, tcp and pipe: each frame (header, then
  # payload_len bytes) goes back unchanged, with no decoding. payload_len is
  # still bounded before anything is read.
  def serve_echo(input, output, log = $stderr)
    header = String.new(capacity: HEADER_SIZE, encoding: BINARY)
    payload = String.new(capacity: 4096, encoding: BINARY)
    while true
      return :eof unless input.read(HEADER_SIZE, header)
      return truncated(log, "header") if header.bytesize < HEADER_SIZE

      len = header.unpack1("L<", offset: 16)
      if len > MAX_PAYLOAD
        return refuse(output, log, header.unpack1("Q<", offset: 8), :too_long,
                      "payload_len #{len} exceeds #{MAX_PAYLOAD}")
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

  def error_reply(output, log, id, message)
    log_line(log, "bad request (id #{id}): #{message}")
    output.write(encode_error(id, message))
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
