# frozen_string_literal: true

# The REST fallback when Puma is not installed: the same Rack app (rest.rb,
# --echo included) on WEBrick, through Rack's WEBrick handler. About 2x
# slower per call than Puma here; the tests fail on it (they expect Puma,
# which the project installs), so it only keeps a half-installed machine
# serving.
#
# WEBrick writes the headers and the body of a reply separately: without
# TCP_NODELAY every reply would wait ~40 ms for the client's delayed ACK, so
# every accepted socket gets it (AcceptCallback).

require "socket"
require "webrick"
require "rack"
require "rack/handler/webrick"
require_relative "tcp"
require_relative "rest"

module Transports
  module RestWebrick
    MAX_BODY = Rest::MAX_BODY
    DRAIN_LIMIT = Rest::DRAIN_LIMIT

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
        RawFrame.log_line($stderr, "bad request: #{Rest::TOO_LARGE}")
        res.status = 413
        res["Content-Type"] = Rest::JSON_TYPE
        res.body = JsonMessage.error_reply(nil, Rest::TOO_LARGE)
        res.keep_alive = false if close
      end
    end

    module_function

    def run(opts, port, app)
      nodelay = ->(sock) { sock.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1) }
      server = nil
      server = WEBrick::HTTPServer.new(
        BindAddress: Tcp::LOOPBACK,
        Port: port,
        DoNotReverseLookup: true,
        Logger: WEBrick::Log.new($stderr, WEBrick::BasicLog::WARN),
        AccessLog: [],
        RequestTimeout: Rest::REQUEST_TIMEOUT,
        AcceptCallback: nodelay,
        # The listener is bound and listening since new(); READY once the
        # accept loop is about to run.
        StartCallback: lambda {
          RawFrame.log_line($stderr, "rest: WEBrick #{WEBrick::VERSION} (fallback)")
          opts.ready("#{Tcp::LOOPBACK}:#{server.config[:Port]}")
        }
      )
      server.mount("/", Handler, app)
      # SIGTERM/SIGINT: start returns; WEBrick closes the listener and joins
      # the connection threads, which notice within 0.5 s that the server is
      # no longer running.
      %w[TERM INT].each { |sig| Signal.trap(sig) { server.shutdown } }
      server.start
      0
    end
  end
end
