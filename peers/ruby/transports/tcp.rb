# frozen_string_literal: true

# TCP server on 127.0.0.1 (--address 127.0.0.1:PORT, 0 = pick one), TCP_NODELAY
# on every accepted socket, one thread per connection, frames (raw_frame.rb:
# raw calls, and JSON / protobuf messages in frames of kind 0x20 / 0x30).

require "socket"
require_relative "../raw_frame"

module Transports
  module Tcp
    LOOPBACK = "127.0.0.1"

    module_function

    # "127.0.0.1:PORT" -> PORT. Only loopback is served.
    def parse_address(address)
      host, sep, port = address.to_s.rpartition(":")
      unless sep == ":" && host == LOOPBACK && port.match?(/\A\d{1,5}\z/) && port.to_i <= 65_535
        raise ArgumentError, "tcp: --address must be #{LOOPBACK}:PORT (PORT 0 picks one), got #{address.inspect}"
      end

      port.to_i
    end

    def run(opts)
      port = parse_address(opts.address)
      server = TCPServer.new(LOOPBACK, port)
      begin
        opts.ready("#{LOOPBACK}:#{server.local_address.ip_port}")
        nodelay = ->(sock) { sock.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1) }
        RawFrame.serve_listener(server, echo: opts.echo, setup: nodelay)
      ensure
        server.close unless server.closed?
      end
    end
  end
end
