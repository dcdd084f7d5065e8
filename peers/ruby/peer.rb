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
  # name => [file under transports/, module name under Transports, codecs
  # (the first is the default)]
  TRANSPORTS = {
    "unix" => ["unix", :Unix, %w[raw]],
    "tcp" => ["tcp", :Tcp, %w[raw]],
    "pipe" => ["pipe", :Pipe, %w[raw]],
    "rest" => ["rest", :Rest, %w[json]],
    # One gRPC server for both: the harness calls unary Add/Score for `grpc`
    # and the bidi Stream RPC for `grpc-stream`.
    "grpc" => ["grpc_server", :GrpcServer, %w[protobuf]],
    "grpc-stream" => ["grpc_server", :GrpcServer, %w[protobuf]],
    "redis" => ["redis_list", :RedisList, %w[json]],
    "redis-stream" => ["redis_stream", :RedisStream, %w[json]],
    # The wait mode is in the segment's header (shm) or the address (file);
    # the harness's row names (shm-spin, file-poll, ...) are accepted too.
    "shm" => ["shm", :Shm, %w[raw]],
    "shm-spin" => ["shm", :Shm, %w[raw]],
    "shm-futex" => ["shm", :Shm, %w[raw]],
    "file" => ["file", :FileHandoff, %w[json]],
    "file-inotify" => ["file", :FileHandoff, %w[json]],
    "file-poll" => ["file", :FileHandoff, %w[json]],
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
