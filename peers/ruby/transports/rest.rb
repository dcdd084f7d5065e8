# frozen_string_literal: true

# REST: a Rack app on WEBrick (through Rack's WEBrick handler), HTTP/1.1
# keep-alive, on 127.0.0.1:PORT (0 = pick one; READY names the real port).
#
# POST /add, POST /score, GET /health (schemas/json_transports.md). Bad input
# gets 400 with a JSON body {"error": "..."}; a body over MAX_JSON_BYTES, 413
# (decided from Content-Length before the body is read); an unknown path,
# 404; a wrong method, 405.
#
# WEBrick writes the headers and the body of a reply separately: without
# TCP_NODELAY every reply would wait ~40 ms for the client's delayed ACK, so
# every accepted socket gets it (AcceptCallback).

require "socket"
require "io/wait"
require "webrick"
require "rack"
require "rack/handler/webrick"
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
    # How long an idle keep-alive connection (and any single read) may wait.
    REQUEST_TIMEOUT = 60

    HEALTH = '{"status":"ok"}'
    OPS = { "/add" => "add", "/score" => "score" }.freeze

    module_function

    def json(status, body, extra = nil)
      headers = { "Content-Type" => JSON_TYPE }
      headers.update(extra) if extra
      [status, headers, [body]]
    end

    def error(status, message, extra = nil)
      json(status, JsonMessage.error_reply(nil, message), extra)
    end

    # The Rack application: routing, body bound, JSON in and out.
    class App
      def call(env)
        path = env["PATH_INFO"]
        method = env["REQUEST_METHOD"]
        if (op = OPS[path])
          return Rest.error(405, "use POST #{path}", "Allow" => "POST") unless method == "POST"

          body = env["rack.input"].read(MAX_BODY + 1) || ""
          if body.bytesize > MAX_BODY
            return Rest.error(413, "request body is larger than #{MAX_BODY} bytes", "Connection" => "close")
          end

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

    # Rack's WEBrick handler, with the body bounded before anything is read:
    # the stock one reads the whole body, however long, into memory.
    class Handler < ::Rack::Handler::WEBrick
      class TooLarge < StandardError; end

      def service(req, res)
        if req["transfer-encoding"]
          body = read_chunked_bounded(req) or return refuse(res, close: true)
          req.define_singleton_method(:body) { |*| body }
        elsif (len = req["content-length"]&.to_i) && len > MAX_BODY
          # Keep-alive: WEBrick reads and drops the body before replying.
          return refuse(res, close: len > DRAIN_LIMIT)
        end
        super
      end

      # The chunked body, or nil once it is over MAX_BODY.
      def read_chunked_bounded(req)
        body = String.new(capacity: 4096, encoding: Encoding::BINARY)
        req.body do |chunk|
          body << chunk
          raise TooLarge if body.bytesize > MAX_BODY
        end
        body
      rescue TooLarge
        nil
      end

      def refuse(res, close:)
        message = "request body is larger than #{MAX_BODY} bytes"
        RawFrame.log_line($stderr, "bad request: #{message}")
        res.status = 413
        res["Content-Type"] = JSON_TYPE
        res.body = JsonMessage.error_reply(nil, message)
        res.keep_alive = false if close
      end
    end

    # WEBrick wraps every read (each header line) in WEBrick::Utils.timeout,
    # which wakes its timeout thread twice per read (~50 us a request here).
    # When bytes are already waiting the read goes without it; only a client
    # that stops in the middle of a line can then hold its connection's
    # thread (never the others).
    class Request < WEBrick::HTTPRequest
      private

      def _read_data(io, method, *arg)
        return io.__send__(method, *arg) if io.to_io.wait_readable(0)

        super
      end
    end

    class Server < WEBrick::HTTPServer
      def create_request(config)
        Request.new(config)
      end
    end

    def run(opts)
      opts.refuse_echo
      port = Tcp.parse_address(opts.address)
      nodelay = ->(sock) { sock.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1) }
      server = nil
      server = Server.new(
        BindAddress: Tcp::LOOPBACK,
        Port: port,
        DoNotReverseLookup: true,
        Logger: WEBrick::Log.new($stderr, WEBrick::BasicLog::WARN),
        AccessLog: [],
        RequestTimeout: REQUEST_TIMEOUT,
        AcceptCallback: nodelay,
        # The listener is bound and listening since new(); READY once the
        # accept loop is about to run.
        StartCallback: -> { opts.ready("#{Tcp::LOOPBACK}:#{server.config[:Port]}") }
      )
      server.mount("/", Handler, App.new)
      # SIGTERM/SIGINT: start returns; WEBrick closes the listener and joins
      # the connection threads, which notice within 0.5 s that the server is
      # no longer running.
      %w[TERM INT].each { |sig| Signal.trap(sig) { server.shutdown } }
      server.start
      0
    end
  end
end
