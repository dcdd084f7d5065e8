# frozen_string_literal: true

# What every test that runs the real peer shares: the peer as a subprocess in
# its own process group, READY with a timeout, and a cleanup that always
# reaps it and removes its temp dir.

require "rbconfig"
require "io/wait"
require "tmpdir"
require "fileutils"
require_relative "../raw_frame"

module PeerTestSupport
  PEER = File.expand_path("../peer.rb", __dir__)
  R = RawFrame
  TIMEOUT = 10.0 # seconds, for any single wait
  MIN64 = -(1 << 63)
  MAX64 = (1 << 63) - 1

  class Timeout < StandardError; end

  # One running peer.
  class PeerProcess
    attr_reader :pid, :address, :tmpdir, :stdin, :stdout, :status

    def initialize(args, pipe: false)
      @tmpdir = Dir.mktmpdir("ruby-peer-test-")
      @stderr_path = File.join(@tmpdir, "stderr.txt")
      out_r, out_w = IO.pipe
      in_r, in_w = pipe ? IO.pipe : [File::NULL, nil]
      args = args.map { |a| a.gsub("%TMP%", @tmpdir) }
      @pid = Process.spawn(RbConfig.ruby, PEER, *args,
                           in: in_r, out: out_w, err: @stderr_path, pgroup: true)
      out_w.close
      in_r.close if pipe
      @stdin = in_w
      @stdout = out_r
      line = read_line(@stdout)
      raise "peer did not say READY: #{line.inspect}; stderr: #{stderr}" unless line&.start_with?("READY ")

      @address = line.chomp.delete_prefix("READY ")
    rescue StandardError
      cleanup
      raise
    end

    # Reads one line byte by byte (so nothing after it is consumed).
    def read_line(io)
      line = +""
      deadline = now + TIMEOUT
      loop do
        c = io.read_nonblock(1, exception: false)
        case c
        when nil then return line.empty? ? nil : line
        when :wait_readable
          left = deadline - now
          raise Timeout, "no READY line within #{TIMEOUT}s" if left <= 0

          io.wait_readable(left)
        else
          line << c
          return line if c == "\n"
        end
      end
    end

    def now
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    def stderr
      File.exist?(@stderr_path) ? File.read(@stderr_path) : ""
    end

    def alive?
      return false if @status

      wait_exit(0)
      @status.nil?
    end

    # Waits up to `timeout` seconds; returns the Process::Status or nil.
    def wait_exit(timeout)
      return @status if @status

      deadline = now + timeout
      loop do
        _, st = Process.wait2(@pid, Process::WNOHANG)
        return @status = st if st
        return nil if now >= deadline

        sleep 0.01
      end
    rescue Errno::ECHILD
      @status
    end

    def signal(sig)
      Process.kill(sig, @pid)
    rescue Errno::ESRCH
      nil
    end

    # TERM, wait, then KILL the whole group; always reaps; removes the dir.
    def cleanup
      if @pid && !@status
        signal("TERM")
        unless wait_exit(5)
          begin
            Process.kill("KILL", -@pid)
          rescue Errno::ESRCH
            nil
          end
          wait_exit(5)
        end
      end
      [@stdin, @stdout].each { |io| io.close if io && !io.closed? }
      FileUtils.remove_entry(@tmpdir) if @tmpdir && File.directory?(@tmpdir)
    end
  end

  # SIGTERM must end the test's peer (@peer) with status 0 within TIMEOUT.
  def assert_exits_0_on_term
    @peer.signal("TERM")
    st = @peer.wait_exit(TIMEOUT)
    refute_nil st, "peer did not exit on SIGTERM"
    assert_equal 0, st.exitstatus
  end

  module_function

  def now
    Process.clock_gettime(Process::CLOCK_MONOTONIC)
  end

  # Polls the block until it returns a truthy value (returned) or `timeout`
  # seconds pass (raises Timeout with `what`).
  def wait_until(what, timeout: TIMEOUT, interval: 0.005)
    deadline = now + timeout
    loop do
      value = yield
      return value if value
      raise Timeout, "timed out after #{timeout}s waiting for #{what}" if now > deadline

      sleep interval
    end
  end

  # Runs the peer to its exit (it is expected not to serve); [status, stderr].
  # `env`: variables to set (or, with nil, unset) for the peer.
  def run_peer_to_exit(*args, env: {})
    err_r, err_w = IO.pipe
    pid = Process.spawn(env, RbConfig.ruby, PEER, *args, in: File::NULL, out: File::NULL, err: err_w, pgroup: true)
    err_w.close
    deadline = now + TIMEOUT
    st = nil
    until (st = Process.wait2(pid, Process::WNOHANG)&.last)
      if now > deadline
        Process.kill("KILL", -pid)
        Process.wait(pid)
        raise Timeout, "peer #{args.join(' ')} did not exit"
      end
      sleep 0.01
    end
    [st, err_r.read]
  ensure
    err_r&.close
  end
end
