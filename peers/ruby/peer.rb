# frozen_string_literal: true

# The Ruby peer (peers/README.md):
#   ruby peers/ruby/peer.rb --transport=T --address=ADDR [--codec=C] [--echo] [--inflight=K]
# Prints "READY <address>" on stdout once listening, then serves until
# SIGTERM/SIGINT (exit 0) or, for pipe, EOF on stdin. Diagnostics go to
# stderr; nothing else ever goes to stdout. With --echo every transport
# sends each request's bytes back unchanged, undecoded (peers/README.md,
# "Echo mode"): the floor of the mechanism in Ruby.
#
# A transport is one file under transports/ plus one entry in TRANSPORTS:
# its module has `run(opts)` (returns an exit status or serves until
# signalled) and is loaded only when chosen, so a transport's heavy
# dependencies (grpc, redis, ...) cost nothing to the others.

require "optparse"

module Peer
  # Codecs of the tiers that carry opaque bytes (DESIGN.md, "Codec"). A
  # frame tier answers JSON and protobuf frames (kinds 0x20 / 0x30) whatever
  # its --codec says, since the frame's kind tells (raw_frame.md, "Other
  # codecs in the frame"); Redis and files take their --codec's messages
  # only (json_transports.md, "Other codecs on Redis and files").
  FRAME_CODECS = %w[raw json protobuf].freeze
  MESSAGE_CODECS = %w[json raw protobuf].freeze

  # name => [file under transports/, module name under Transports, codecs
  # (the first is the default)]
  TRANSPORTS = {
    "unix" => ["unix", :Unix, FRAME_CODECS],
    "tcp" => ["tcp", :Tcp, FRAME_CODECS],
    "pipe" => ["pipe", :Pipe, FRAME_CODECS],
    "rest" => ["rest", :Rest, %w[json]],
    # One gRPC server for both: the harness calls unary Add/Score for `grpc`
    # and the bidi Stream RPC for `grpc-stream`.
    "grpc" => ["grpc_server", :GrpcServer, %w[protobuf]],
    "grpc-stream" => ["grpc_server", :GrpcServer, %w[protobuf]],
    "redis" => ["redis_list", :RedisList, MESSAGE_CODECS],
    "redis-stream" => ["redis_stream", :RedisStream, MESSAGE_CODECS],
    # The wait mode is in the segment's header (shm) or the address (file);
    # the harness's row names (shm-spin, file-poll, ...) are accepted too.
    "shm" => ["shm", :Shm, FRAME_CODECS],
    "shm-spin" => ["shm", :Shm, FRAME_CODECS],
    "shm-futex" => ["shm", :Shm, FRAME_CODECS],
    "file" => ["file", :FileHandoff, MESSAGE_CODECS],
    "file-inotify" => ["file", :FileHandoff, MESSAGE_CODECS],
    "file-poll" => ["file", :FileHandoff, MESSAGE_CODECS],
  }.freeze

  EXIT_USAGE = 2

  # What a transport gets: the parsed options and the handshake.
  Options = Struct.new(:transport, :address, :codec, :echo, :inflight, :stdout, keyword_init: true) do
    # Prints the one READY line on the real stdout and flushes it.
    def ready(address)
      stdout.write("READY #{address}\n")
      stdout.flush
    end
  end

  module_function

  def usage_error(message)
    warn "ruby peer: #{message}"
    exit EXIT_USAGE
  end

  def parse(argv, stdout)
    opts = Options.new(echo: false, inflight: 1, stdout: stdout)
    parser = OptionParser.new do |o|
      o.banner = "usage: ruby peer.rb --transport=T --address=ADDR [--codec=C] [--echo] [--inflight=K]"
      o.on("--transport=T", "one of: #{TRANSPORTS.keys.join(', ')}") { |v| opts.transport = v }
      o.on("--address=ADDR", "unix: socket path; tcp, rest, grpc: 127.0.0.1:PORT; pipe: -; " \
                             "redis: REDIS_URL#PREFIX; shm: /SHM-NAME; file: DIR[?wait=poll]") { |v| opts.address = v }
      o.on("--codec=C", "wire codec (default: the transport's own)") { |v| opts.codec = v }
      o.on("--echo", "floor mode: send each request's bytes back unchanged, undecoded") { opts.echo = true }
      o.on("--inflight=K", Integer, "the most calls the harness keeps in flight (bench --inflight)") do |v|
        usage_error("--inflight=#{v}: at least 1") if v < 1
        opts.inflight = v
      end
      o.on("-h", "--help") do
        warn o.help
        exit 0
      end
    end
    begin
      rest = parser.parse(argv)
    rescue OptionParser::ParseError => e
      usage_error("#{e.message}\n#{parser.banner}")
    end
    usage_error("unexpected arguments: #{rest.join(' ')}") unless rest.empty?

    entry = TRANSPORTS[opts.transport]
    unless entry
      usage_error("unknown transport #{opts.transport.inspect}; valid transports: #{TRANSPORTS.keys.join(', ')}")
    end
    codecs = entry[2]
    opts.codec ||= codecs.first
    unless codecs.include?(opts.codec)
      usage_error("transport #{opts.transport} does not support codec #{opts.codec.inspect}; " \
                  "supported: #{codecs.join(', ')}")
    end
    opts.address ||= "-" if opts.transport == "pipe"
    usage_error("--address is required for transport #{opts.transport}") if opts.address.nil?
    opts
  end

  def main(argv)
    # Frames and the READY line go to the real stdout only; anything printed
    # by mistake ($stdout.puts, p, ...) lands on stderr instead.
    real_stdout = $stdout
    $stdout = $stderr
    opts = parse(argv, real_stdout)

    file, const, = TRANSPORTS.fetch(opts.transport)
    require_relative "transports/#{file}"
    transport = Transports.const_get(const)

    # SIGTERM/SIGINT: raise SystemExit(0) in the main thread, so the
    # transport's ensure blocks close the listener and remove the socket file.
    %w[TERM INT].each { |sig| Signal.trap(sig) { exit 0 } }

    status = begin
      # A byte tier told --codec=protobuf loads the generated messages
      # before READY (elsewhere they load at the first protobuf message), so
      # a build without them fails at start, not once per message. (gRPC
      # loads them itself, with grpc.)
      if opts.codec == "protobuf" && file != "grpc_server"
        require_relative "protobuf_message"
        ProtobufMessage.load
      end
      transport.run(opts)
    rescue ArgumentError => e
      usage_error(e.message)
    rescue StandardError => e
      warn "ruby peer: #{opts.transport} #{opts.address}: #{e.class}: #{e.message}"
      1
    end
    exit(status.is_a?(Integer) ? status : 0)
  end
end

Peer.main(ARGV) if $PROGRAM_NAME == __FILE__
