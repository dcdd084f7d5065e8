# frozen_string_literal: true

# Shared memory (`shm`, schemas/shm_layout.md): --address is the POSIX shm
# name the harness created (/interop-spectrum-PID-TAG, i.e. the file
# /dev/shm/interop-spectrum-PID-TAG). The peer maps it read-write with
# IO::Buffer, checks the header (wrong magic, version or capacities: exit 2)
# and serves one call at a time:
#
#   read req_seq once before READY (the harness may publish request 1 the
#   moment READY arrives); then, for each call:
#   wait until req_seq != the last one served (spin, or spin then futex)
#   read and check the request frame in the request slot (raw_frame.md bounds)
#   write the reply frame into the reply slot (--echo: copy the request
#   frame there unchanged, if it fits)
#   rep_seq = the request's seq; futex mode: FUTEX_WAKE(&rep_seq), always
#
# Ruby cannot fence, so this relies on x86-64's total store order (every
# aligned 4-byte store is a release, every load an acquire) and on IO::Buffer
# doing its copies before a later set_value: it refuses to run elsewhere
# (exit 2). Because it cannot fence between publishing rep_seq and reading
# rep_sleeping, it never trusts rep_sleeping and wakes after every reply in
# futex mode. Its own sleep needs no fence: FUTEX_WAIT re-reads req_seq under
# the kernel's lock, after our req_sleeping store.
#
# IO::Buffer in 3.1 does not give its address, so futex mode maps the segment
# a second time with libc mmap (through Fiddle) to get pointers for the futex
# calls: a shared futex keys on the page, not on the mapping address.
#
# The peer never unlinks the segment: the harness owns it.

require "etc"
require "rbconfig"
require_relative "../raw_frame"
require_relative "../workload"

module Transports
  module Shm
    MAGIC = 0x4D485349 # "ISHM"
    VERSION = 2
    WAIT_SPIN = 0
    WAIT_FUTEX = 1

    # header offsets
    OFF_MAGIC = 0
    OFF_VERSION = 4
    OFF_WAIT_MODE = 8
    OFF_REQ_CAP = 12
    OFF_REP_CAP = 16
    OFF_SPIN_BUDGET = 20
    # Each sequence word starts a cache line and its slot follows on it, so a
    # small frame travels with the number that publishes it.
    OFF_REQ_SEQ = 64
    OFF_REQ_SLEEPING = 68
    REQ_OFF = 72 # request slot
    REQ_CAP = 1_052_696 # 24 + MAX_PAYLOAD
    OFF_REP_SEQ = 1_052_800
    OFF_REP_SLEEPING = 1_052_804
    REP_OFF = 1_052_808 # reply slot
    REP_CAP = 4096
    SEGMENT_SIZE = REP_OFF + REP_CAP # 1,056,904

    R = RawFrame
    HEADER_SIZE = R::HEADER_SIZE

    module_function

    # "/NAME" -> "/dev/shm/NAME"
    def segment_path(name)
      unless name.is_a?(String) && name.match?(%r{\A/[^/\0]{1,250}\z}) && name != "/." && name != "/.."
        raise ArgumentError, "shm: --address must be a POSIX shm name like /interop-spectrum-PID-TAG, got #{name.inspect}"
      end

      "/dev/shm#{name}"
    end

    def check_platform
      cpu = RbConfig::CONFIG["host_cpu"]
      machine = Etc.uname[:machine]
      return if cpu == "x86_64" && machine == "x86_64"

      raise ArgumentError, "shm: the Ruby peer relies on x86-64 store ordering; refusing to run on " \
                           "#{machine} (ruby built for #{cpu})"
    end

    # Maps the segment and checks its header. Returns [file, buffer, mode,
    # spin_budget]; ArgumentError (exit 2) for a segment that is not ours.
    def open_segment(path)
      file = begin
        File.open(path, File::RDWR)
      rescue SystemCallError => e
        raise ArgumentError, "shm: cannot open #{path}: #{e.message}"
      end
      size = file.size
      if size < SEGMENT_SIZE
        file.close
        raise ArgumentError, "shm: #{path} is #{size} bytes, expected #{SEGMENT_SIZE} (layout version #{VERSION})"
      end
      buf = IO::Buffer.map(file, SEGMENT_SIZE, 0, 0) # read-write, MAP_SHARED
      magic = buf.get_value(:u32, OFF_MAGIC)
      version = buf.get_value(:u32, OFF_VERSION)
      mode = buf.get_value(:u32, OFF_WAIT_MODE)
      req_cap = buf.get_value(:u32, OFF_REQ_CAP)
      rep_cap = buf.get_value(:u32, OFF_REP_CAP)
      problem =
        if magic != MAGIC then format("bad magic 0x%08x", magic)
        elsif version != VERSION then "unsupported version #{version}"
        elsif req_cap != REQ_CAP || rep_cap != REP_CAP
          "slot capacities #{req_cap}/#{rep_cap}, expected #{REQ_CAP}/#{REP_CAP}"
        elsif mode != WAIT_SPIN && mode != WAIT_FUTEX then "unknown wait mode #{mode}"
        end
      if problem
        buf.free
        file.close
        raise ArgumentError, "shm: #{path}: #{problem}"
      end
      [file, buf, mode, buf.get_value(:u32, OFF_SPIN_BUDGET)]
    end

    # FUTEX_WAIT / FUTEX_WAKE on the sequence words, through libc with Fiddle.
    class Futex
      SYS_FUTEX = 202 # x86-64
      FUTEX_WAIT = 0 # shared: no FUTEX_PRIVATE_FLAG
      FUTEX_WAKE = 1
      PROT_READ_WRITE = 3
      MAP_SHARED = 1
      WAIT_NS = 100_000_000 # 100 ms, so a missed wake-up costs at most that

      def initialize(file)
        require "fiddle"
        libc = Fiddle.dlopen(nil)
        args = [Fiddle::TYPE_LONG, Fiddle::TYPE_VOIDP, Fiddle::TYPE_INT, Fiddle::TYPE_INT,
                Fiddle::TYPE_VOIDP, Fiddle::TYPE_VOIDP, Fiddle::TYPE_INT]
        # The wait releases the GVL while it sleeps; the wake is short.
        @wait = Fiddle::Function.new(libc["syscall"], args, Fiddle::TYPE_LONG)
        @wake = Fiddle::Function.new(libc["syscall"], args, Fiddle::TYPE_LONG, need_gvl: true)
        mmap = Fiddle::Function.new(libc["mmap"], [Fiddle::TYPE_VOIDP, Fiddle::TYPE_SIZE_T, Fiddle::TYPE_INT,
                                                   Fiddle::TYPE_INT, Fiddle::TYPE_INT, Fiddle::TYPE_LONG],
                                    Fiddle::TYPE_VOIDP)
        @base = mmap.call(nil, SEGMENT_SIZE, PROT_READ_WRITE, MAP_SHARED, file.fileno, 0)
        if [-1, (1 << 64) - 1].include?(@base.to_i) || @base.null?
          raise IOError, "shm: mmap of the segment failed (errno #{Fiddle.last_error})"
        end

        @req_seq = @base + OFF_REQ_SEQ
        @rep_seq = @base + OFF_REP_SEQ
        @timeout = Fiddle::Pointer.malloc(16, Fiddle::RUBY_FREE)
        @timeout[0, 16] = [0, WAIT_NS].pack("q<q<")
      end

      # Sleeps while req_seq == seen (at most 100 ms; EAGAIN/EINTR just return).
      # The kernel compares the 32 bits; Fiddle wants them as a signed int.
      def wait_request(seen)
        @wait.call(SYS_FUTEX, @req_seq, FUTEX_WAIT, seen > 0x7FFF_FFFF ? seen - 0x1_0000_0000 : seen, @timeout, nil, 0)
      end

      def wake_harness
        @wake.call(SYS_FUTEX, @rep_seq, FUTEX_WAKE, 1, nil, nil, 0)
      end

      # The harness's wake-up of the peer (used by the tests, which play the
      # harness).
      def wake_peer
        @wake.call(SYS_FUTEX, @req_seq, FUTEX_WAKE, 1, nil, nil, 0)
      end
    end

    def run(opts)
      check_platform
      path = segment_path(opts.address)
      prev = Warning[:experimental]
      Warning[:experimental] = false # "IO::Buffer is experimental"
      file = buf = mode = budget = nil
      begin
        file, buf, mode, budget = open_segment(path)
      ensure
        Warning[:experimental] = prev
      end
      futex = mode == WAIT_FUTEX ? Futex.new(file) : nil
      server = Server.new(buf, echo: opts.echo) # reads req_seq: before READY
      opts.ready(opts.address)
      # Serves until SIGTERM/SIGINT raise SystemExit (checked by the VM on
      # every loop iteration, and at the latest after a 100 ms futex wait).
      futex ? server.serve_futex(futex, budget) : server.serve_spin
    end

    # Serves the calls of one mapped segment.
    class Server
      # The first 8 bytes of an add request header (magic, version, kind,
      # reserved) and of an add reply, read and written as one u64.
      ADD_REQUEST_WORD = R::MAGIC | (R::VERSION << 32) | (R::KIND_ADD_REQUEST << 40)
      ADD_REPLY_WORD = R::MAGIC | (R::VERSION << 32) | (R::KIND_ADD_REPLY << 40)
      # x + y in this range is a Fixnum, so within int64 with no wrap to do.
      FIX_MIN = -(1 << 62)
      FIX_MAX = (1 << 62) - 1

      def initialize(buf, echo: false)
        @buf = buf
        @echo = echo
        @add_reply_header = false # the reply slot holds an add reply's header
        @last = buf.get_value(:u32, OFF_REQ_SEQ) # the last request seen
      end

      def serve_spin
        buf = @buf
        last = @last
        while true
          seq = last
          seq = buf.get_value(:u32, OFF_REQ_SEQ) while seq == last
          @echo ? answer_echo : answer
          buf.set_value(:u32, OFF_REP_SEQ, seq)
          last = seq
        end
      end

      def serve_futex(futex, budget)
        buf = @buf
        last = @last
        while true
          spins = budget
          while (seq = buf.get_value(:u32, OFF_REQ_SEQ)) == last
            if spins.positive?
              spins -= 1
              next
            end
            buf.set_value(:u32, OFF_REQ_SLEEPING, 1)
            futex.wait_request(last) if buf.get_value(:u32, OFF_REQ_SEQ) == last
            buf.set_value(:u32, OFF_REQ_SLEEPING, 0)
          end
          @echo ? answer_echo : answer
          buf.set_value(:u32, OFF_REP_SEQ, seq)
          futex.wake_harness
          last = seq
        end
      end

      # Reads the request frame, writes the reply frame (never rep_seq).
      # The common case, a well-formed add request, is read and answered
      # with a few loads and stores in place; everything else goes through
      # the raw frame codec.
      def answer
        buf = @buf
        if buf.get_value(:u64, REQ_OFF) == ADD_REQUEST_WORD && buf.get_value(:u64, REQ_OFF + 16) == 16
          x = buf.get_value(:s64, REQ_OFF + 24)
          y = buf.get_value(:s64, REQ_OFF + 32)
          r = x + y
          r = Workload.add(x, y) unless r >= FIX_MIN && r <= FIX_MAX
          unless @add_reply_header
            buf.set_value(:u64, REP_OFF, ADD_REPLY_WORD)
            buf.set_value(:u64, REP_OFF + 16, 8) # payload_len 8, reserved 0
            @add_reply_header = true
          end
          buf.set_value(:u64, REP_OFF + 8, buf.get_value(:u64, REQ_OFF + 8))
          buf.set_value(:s64, REP_OFF + 24, r)
        else
          @add_reply_header = false
          answer_frame
        end
      end

      def answer_frame
        buf = @buf
        magic, version, kind, _r1, id, len, _r2 = buf.get_string(REQ_OFF, HEADER_SIZE).unpack(R::HEADER_FORMAT)
        if magic != R::MAGIC || version != R::VERSION
          return error_reply(0, format("bad magic 0x%08x or version %d", magic, version))
        end
        if len > R::MAX_PAYLOAD || HEADER_SIZE + len > REQ_CAP
          return error_reply(id, "payload_len #{len} exceeds #{R::MAX_PAYLOAD}")
        end

        if kind == R::KIND_ADD_REQUEST && len == 16
          x, y = buf.get_string(REQ_OFF + HEADER_SIZE, 16).unpack("q<q<")
          buf.set_string(R.encode_add_reply(id, Workload.add(x, y)), REP_OFF)
        elsif kind == R::KIND_SCORE_REQUEST
          begin
            features, model = R.parse_score_request(buf.get_string(REQ_OFF + HEADER_SIZE, len))
          rescue R::FrameError => e
            return error_reply(id, e.message)
          end
          score, label = Workload.score(features, model)
          buf.set_string(R.encode_score_reply(id, score, label), REP_OFF)
        elsif kind == R::KIND_ADD_REQUEST
          error_reply(id, "add request payload must be 16 bytes")
        else
          error_reply(id, format("unknown kind 0x%02x", kind))
        end
      end

      # --echo: the request frame goes back unchanged when it fits the reply
      # slot (REP_CAP is below MAX_PAYLOAD, so that bounds payload_len too).
      # This is the floor, so it is no costlier than the add fast path: one
      # load and one copy from slot to slot inside the mapped buffer, with
      # no String made.
      def answer_echo
        buf = @buf
        len = buf.get_value(:u32, REQ_OFF + 16)
        if len > REP_CAP - HEADER_SIZE
          return error_reply(buf.get_value(:u64, REQ_OFF + 8),
                             "payload_len #{len} does not fit the #{REP_CAP}-byte reply slot")
        end

        buf.copy(buf, REP_OFF, HEADER_SIZE + len, REQ_OFF)
      end

      def error_reply(id, message)
        R.log_line($stderr, "bad request (id #{id}): #{message}")
        @buf.set_string(R.encode_error(id, message), REP_OFF)
      end
    end
  end
end
