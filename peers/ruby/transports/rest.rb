# frozen_string_literal: true

# REST: a Rack app on Puma (Debian's `puma` package, 5.6), HTTP/1.1
# keep-alive, on 127.0.0.1:PORT (0 = pick one; READY names the real port).
#
# POST /add, POST /score, POST /batch, GET /health
# (schemas/json_transports.md). Bad input gets 400 with a JSON body
# {"error": "..."}; a body over MAX_JSON_BYTES, 413 (a batch too); an unknown
# path, 404; a wrong method, 405. A batch ({"op": "batch", "items": [...]})
# is answered whole by the Puma thread that read it, item by item in order
# (JsonMessage.answer_batch): a wrong item gets {"error": ...} in its place,
# a wrong shape or an op other than "batch" refuses the batch with 400. With
# --echo the same app on the same server answers POST /add, /score and
# /batch with the request body unchanged, parsing nothing; everything else
# (health, bounds, errors) is as above.
#
# Puma::Server directly (no Launcher, no config file): one process, a fixed
# pool of THREADS threads, its events and errors on stderr (stdout carries
# the READY line only). Connections that wait for a request or are still
# sending one sit in Puma's reactor, not in a thread, so a stalled client
# holds no thread. The listener has TCP_NODELAY, which accepted sockets
# inherit; Puma corks each reply into one segment.
#
# Request bodies: Puma 5 reads a whole body before the app runs (to a temp
# file past 112 KiB), whatever length it declares. BoundedBody (below) stops
# that: a declared Content-Length over MAX_BODY is read and thrown away (up to
# DRAIN_LIMIT, so the client still sending reads a 413 instead of a reset)
# and the app answers 413 from Content-Length; beyond DRAIN_LIMIT, or a
# chunked body past MAX_BODY, gets the 413 at once and the connection closed.
#
# Without Puma installed the peer falls back to WEBrick (rest_webrick.rb), with
# one line on stderr; its tests then fail, since the project installs Puma.
# At start the peer names its server on stderr, e.g.
# "ruby peer: rest: Puma 5.6.5, 2 threads" (the tests check it).

require "socket"
require_relative "tcp"
require_relative "../json_message"

module Transports
  module Rest
    JSON_TYPE = "application/json"
    MAX_BODY = JsonMessage::MAX_JSON_BYTES
    # An oversize body up to this size is read and dropped after the 413, so
    # the client (still sending) reads our reply instead of a reset; beyond
    # it the connection is closed at once.
    DRAIN_LIMIT = 64 << 20
    # How long an idle keep-alive connection (and a request being sent) may wait.
    REQUEST_TIMEOUT = 60
    # Puma's pool. One keep-alive client is served inline by one thread, so
    # 1, 2 and 4 threads measured the same here (~90-110 us p50, harness
    # `rest` row); 2 keeps a connection that Puma holds in a thread between
    # requests (up to 0.2 s, its keep-alive fast path) from delaying another.
    # Under --inflight=K the client keeps K connections busy, and a thread
    # that holds one in that fast path stalls the others: K threads then.
    THREADS = 2
    STOP_SECONDS = 3

    HEALTH = '{"status":"ok"}'
    OPS = { "/add" => "add", "/score" => "score", "/batch" => "batch" }.freeze
    TOO_LARGE = "request body is larger than #{MAX_BODY} bytes"

    module_function

    def json(status, body, extra = nil)
      headers = { "Content-Type" => JSON_TYPE }
      headers.update(extra) if extra
      [status, headers, [body]]
    end

    def error(status, message, extra = nil)
      json(status, JsonMessage.error_reply(nil, message), extra)
    end

    def too_large
      RawFrame.log_line($stderr, "bad request: #{TOO_LARGE}")
      error(413, TOO_LARGE)
    end

    # The Rack application: routing, body bound, JSON in and out (or, with
    # echo, the body back as it came). The server has bounded the body
    # already; the checks here hold on any server.
    class App
      def initialize(echo: false)
        @echo = echo
      end

      def call(env)
        path = env["PATH_INFO"]
        method = env["REQUEST_METHOD"]
        if (op = OPS[path])
          return Rest.error(405, "use POST #{path}", "Allow" => "POST") unless method == "POST"
          return Rest.too_large if env["CONTENT_LENGTH"].to_i > MAX_BODY

          body = env["rack.input"].read(MAX_BODY + 1) || ""
          return Rest.too_large if body.bytesize > MAX_BODY
          return Rest.json(200, body) if @echo

          ok, reply = JsonMessage.respond(body, op)
          return Rest.json(200, reply) if ok

          RawFrame.log_line($stderr, "bad request: #{reply}")
          Rest.json(400, reply)
        elsif path == "/health"
          return Rest.json(200, HEALTH) if method == "GET" || method == "HEAD"

          Rest.error(405, "use GET /health", "Allow" => "GET, HEAD")
        else
          Rest.error(404, "no such path: #{path}")
        end
      rescue StandardError => e # a bug costs one request, never the peer
        RawFrame.log_line($stderr, "internal error: #{e.class}: #{e.message}")
        Rest.error(500, "internal error")
      end
    end

    def run(opts)
      port = Tcp.parse_address(opts.address)
      begin
        require "puma"
        require "puma/server"
      rescue LoadError => e
        RawFrame.log_line($stderr, "rest: Puma not found (#{e.message}); install Debian's `puma` " \
                                   "package. Serving with WEBrick instead")
        require_relative "rest_webrick"
        return RestWebrick.run(opts, port, App.new(echo: opts.echo))
      end
      serve_puma(opts, port)
    end

    def serve_puma(opts, port)
      unless %i[setup_body write_chunk].all? { |m| Puma::Client.private_method_defined?(m) }
        raise IOError, "Puma #{Puma::Const::PUMA_VERSION}: its Client has no setup_body/write_chunk " \
                       "to bound request bodies with (written for Debian 12's Puma 5.6)"
      end
      Puma::Client.prepend(BoundedBody) unless Puma::Client <= BoundedBody
      threads = [THREADS, opts.inflight].max
      log = PumaLog.new
      events = Puma::Events.new(log, log)
      server = Puma::Server.new(
        App.new(echo: opts.echo), events,
        min_threads: threads, max_threads: threads,
        # Not development: errors that reach Puma get no backtrace in the reply.
        environment: "production",
        persistent_timeout: REQUEST_TIMEOUT, first_data_timeout: REQUEST_TIMEOUT,
        force_shutdown_after: 1
      )
      listener = server.add_tcp_listener(Tcp::LOOPBACK, port)
      unless listener.getsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY).int.positive?
        raise IOError, "Puma's listener has no TCP_NODELAY"
      end

      thread = server.run
      RawFrame.log_line($stderr, "rest: Puma #{Puma::Const::PUMA_VERSION}, #{threads} threads")
      opts.ready("#{Tcp::LOOPBACK}:#{listener.local_address.ip_port}")
      begin
        thread.join # until SIGTERM/SIGINT raises SystemExit here
      ensure
        server.stop
        thread.join(STOP_SECONDS)
      end
      0
    end

    # Puma's log and error log (Events' stdout and stderr): each message as
    # one "ruby peer: puma: ..." line on stderr.
    class PumaLog
      def puts(*messages)
        messages.each { |m| RawFrame.log_line($stderr, "puma: #{m}") }
        nil
      end

      def write(message)
        puts(message)
        message.to_s.bytesize
      end

      def sync
        true
      end

      def flush
        self
      end
    end

    # Takes the place of a request body over MAX_BODY while Puma reads it:
    # keeps nothing.
    class Discard
      def write(data)
        data.bytesize
      end

      def read(_length = nil, _buffer = nil)
        nil
      end

      def rewind
        0
      end

      def close; end
    end

    # Prepended to Puma::Client (Puma 5.6's private setup_body and
    # write_chunk): bounds what Puma reads of a request body, see the top.
    module BoundedBody
      REFUSAL = begin
        body = JsonMessage.error_reply(nil, TOO_LARGE)
        "HTTP/1.1 413 Payload Too Large\r\nContent-Type: #{JSON_TYPE}\r\n" \
          "Content-Length: #{body.bytesize}\r\nConnection: close\r\n\r\n#{body}"
      end

      private

      def setup_body
        declared = @env["CONTENT_LENGTH"]
        return super if declared.nil? || @env.key?("HTTP_TRANSFER_ENCODING") || !declared.match?(/\A\d+\z/)

        length = declared.to_i
        return super if length <= MAX_BODY

        # A client waiting for "100 Continue" has sent no body yet: it gets
        # the 413 instead and the connection closes, nothing to drain.
        refuse! if length > DRAIN_LIMIT || @env["HTTP_EXPECT"]&.casecmp?("100-continue")
        done = super
        # Puma has set up a temp file for the body: swap in a sink. The app
        # answers 413 from CONTENT_LENGTH once it is all read.
        if !done && @tempfile
          @tempfile.close
          @tempfile = nil
          @body = Discard.new
        end
        done
      end

      def write_chunk(data)
        refuse! if @chunked_content_length + data.bytesize > MAX_BODY
        super
      end

      # The 413 straight away, then Puma closes the connection (it drops a
      # ConnectionError silently).
      def refuse!
        RawFrame.log_line($stderr, "bad request: #{TOO_LARGE}; closing the connection")
        begin
          @io.write(REFUSAL)
        rescue StandardError
          nil
        end
        raise Puma::ConnectionError, TOO_LARGE
      end
    end
  end
end
