# frozen_string_literal: true

# Shared memory (`shm`, schemas/shm_layout.md, version 3): --address is the
# POSIX shm name the harness created (/interop-spectrum-PID-TAG, i.e. the file
# /dev/shm/interop-spectrum-PID-TAG). The peer maps it read-write with
# IO::Buffer, checks the header (wrong magic, version, capacities or slots:
# exit 2) and serves calls in order round the ring of S entries each way:
#
#   call n (from the header's `first` + 1) uses entry (n-1) mod S each way
#   wait until the request entry's seq turns to n (spin, or spin then futex)
#   read and check the request frame in the entry (raw_frame.md bounds)
#   write the reply frame into the reply entry (--echo: copy the request
#   frame there unchanged, if it fits)
#   reply entry's seq = n; futex mode: FUTEX_WAKE on it, always
#
# With S > 1 the harness may have published the next calls meanwhile (calls
# in flight): they are served one after another with no wait between.
#
# Ruby cannot fence, so this relies on x86-64's total store order (every
# aligned 4-byte store is a release, every load an acquire) and on IO::Buffer
# doing its copies before a later set_value: it refuses to run elsewhere
# (exit 2). Because it cannot fence between publishing a reply and reading
# the harness's sleeping flag, it never trusts the flag and wakes after every
# reply in futex mode. Its own sleep needs no fence: FUTEX_WAIT re-reads the
# seq under the kernel's lock, after our sleeping-flag store.
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
    VERSION = 3
    WAIT_SPIN = 0
    WAIT_FUTEX = 1

    # header offsets
    OFF_MAGIC = 0
    OFF_VERSION = 4
    OFF_WAIT_MODE = 8
    OFF_REQ_CAP = 12
    OFF_REP_CAP = 16
    OFF_SPIN_BUDGET = 20
    OFF_SLOTS = 24
    OFF_FIRST = 28
    # An entry is [seq u32][sleeping u32][frame] and starts a cache line, so a
    # small frame travels with the number that publishes it.
    ENTRY_HEADER = 8
    REQ_CAP = 1_052_696 # 24 + MAX_PAYLOAD
    REP_CAP = 4096
    REQ_STRIDE = 1_052_736 # round_up(8 + REQ_CAP, 64)
    REP_STRIDE = 4160 # round_up(8 + REP_CAP, 64)
    REQUESTS = 64
    MAX_SLOTS = 1024
    U32 = 0xFFFF_FFFF

    def self.replies_offset(slots) = REQUESTS + (slots * REQ_STRIDE)
    def self.segment_size(slots) = replies_offset(slots) + (slots * REP_STRIDE)

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
    # spin_budget, slots, first]; ArgumentError (exit 2) for a segment that
    # is not ours.
    def open_segment(path)
      file = begin
        File.open(path, File::RDWR)
      rescue SystemCallError => e
        raise ArgumentError, "shm: cannot open #{path}: #{e.message}"
      end
      size = file.size
      if size < Shm.segment_size(1)
        file.close
        raise ArgumentError, "shm: #{path} is #{size} bytes, expected at least #{Shm.segment_size(1)} " \
                             "(layout version #{VERSION})"
      end
      buf = IO::Buffer.map(file, size, 0, 0) # read-write, MAP_SHARED
      magic = buf.get_value(:u32, OFF_MAGIC)
      version = buf.get_value(:u32, OFF_VERSION)
      mode = buf.get_value(:u32, OFF_WAIT_MODE)
      req_cap = buf.get_value(:u32, OFF_REQ_CAP)
      rep_cap = buf.get_value(:u32, OFF_REP_CAP)
      slots = buf.get_value(:u32, OFF_SLOTS)
      problem =
        if magic != MAGIC then format("bad magic 0x%08x", magic)
        elsif version != VERSION then "unsupported version #{version}"
        elsif req_cap != REQ_CAP || rep_cap != REP_CAP
          "slot capacities #{req_cap}/#{rep_cap}, expected #{REQ_CAP}/#{REP_CAP}"
        elsif mode != WAIT_SPIN && mode != WAIT_FUTEX then "unknown wait mode #{mode}"
        elsif slots < 1 || slots > MAX_SLOTS || slots.anybits?(slots - 1)
          "#{slots} slots, not a power of two up to #{MAX_SLOTS}"
        elsif size < Shm.segment_size(slots)
          "#{size} bytes, its #{slots} slots need #{Shm.segment_size(slots)}"
        end
      if problem
        buf.free
        file.close
        raise ArgumentError, "shm: #{path}: #{problem}"
      end
      [file, buf, mode, buf.get_value(:u32, OFF_SPIN_BUDGET), slots, buf.get_value(:u32, OFF_FIRST)]
    end

    # FUTEX_WAIT / FUTEX_WAKE on the entries' seq words, through libc with Fiddle.
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
        @base = mmap.call(nil, file.size, PROT_READ_WRITE, MAP_SHARED, file.fileno, 0)
        if [-1, (1 << 64) - 1].include?(@base.to_i) || @base.null?
          raise IOError, "shm: mmap of the segment failed (errno #{Fiddle.last_error})"
        end

        @timeout = Fiddle::Pointer.malloc(16, Fiddle::RUBY_FREE)
        @timeout[0, 16] = [0, WAIT_NS].pack("q<q<")
      end

      # Sleeps while the u32 at `offset` == seen (at most 100 ms; EAGAIN/EINTR
      # just return). The kernel compares the 32 bits; Fiddle wants them as a
      # signed int.
      def wait(offset, seen)
        @wait.call(SYS_FUTEX, @base + offset, FUTEX_WAIT, seen > 0x7FFF_FFFF ? seen - 0x1_0000_0000 : seen,
                   @timeout, nil, 0)
      end

      # Wakes whoever sleeps on the u32 at `offset` (the harness on a reply
      # entry; the tests, playing the harness, wake the peer on a request entry).
      def wake(offset)
        @wake.call(SYS_FUTEX, @base + offset, FUTEX_WAKE, 1, nil, nil, 0)
      end
    end

    def run(opts)
      check_platform
      path = segment_path(opts.address)
      prev = Warning[:experimental]
      Warning[:experimental] = false # "IO::Buffer is experimental"
      file = buf = mode = budget = slots = first = nil
      begin
        file, buf, mode, budget, slots, first = open_segment(path)
      ensure
        Warning[:experimental] = prev
      end
      futex = mode == WAIT_FUTEX ? Futex.new(file) : nil
      server = Server.new(buf, slots, first, echo: opts.echo)
      opts.ready(opts.address)
      # Serves until SIGTERM/SIGINT raise SystemExit (checked by the VM on
      # every loop iteration, and at the latest after a 100 ms futex wait).
      futex ? server.serve_futex(futex, budget) : server.serve_spin
    end

    # Serves the calls of one mapped segment, round its ring.
    class Server
      # The first 8 bytes of an add request header (magic, version, kind,
      # reserved) and of an add reply, read and written as one u64.
      ADD_REQUEST_WORD = R::MAGIC | (R::VERSION << 32) | (R::KIND_ADD_REQUEST << 40)
      ADD_REPLY_WORD = R::MAGIC | (R::VERSION << 32) | (R::KIND_ADD_REPLY << 40)
      # x + y in this range is a Fixnum, so within int64 with no wrap to do.
      FIX_MIN = -(1 << 62)
      FIX_MAX = (1 << 62) - 1

      def initialize(buf, slots, first, echo: false)
        @buf = buf
        @echo = echo
        @slots = slots
        @first = first
        replies = Shm.replies_offset(slots)
        # Each entry's seq offset; its frame is ENTRY_HEADER further on.
        @reqs = Array.new(slots) { |e| REQUESTS + (e * REQ_STRIDE) }
        @reps = Array.new(slots) { |e| replies + (e * REP_STRIDE) }
        @add_reply_header = Array.new(slots, false) # the reply entry holds an add reply's header
      end

      # One slot (no calls in flight) keeps its offsets in locals; a ring
      # looks up the next entry's per call.
      def serve_spin
        buf = @buf
        mask = @slots - 1
        ring = mask.positive?
        reqs = @reqs
        reps = @reps
        n = @first
        e = n & mask
        req = reqs[e]
        rep = reps[e]
        while true
          n = (n + 1) & U32
          if ring
            e = (n - 1) & mask
            req = reqs[e]
            rep = reps[e]
          end
          nil while buf.get_value(:u32, req) != n
          @echo ? answer_echo(req + ENTRY_HEADER, rep + ENTRY_HEADER) : answer(e, req + ENTRY_HEADER, rep + ENTRY_HEADER)
          buf.set_value(:u32, rep, n)
        end
      end

      def serve_futex(futex, budget)
        buf = @buf
        slots = @slots
        mask = slots - 1
        ring = mask.positive?
        reqs = @reqs
        reps = @reps
        n = @first
        e = n & mask
        req = reqs[e]
        rep = reps[e]
        while true
          n = (n + 1) & U32
          if ring
            e = (n - 1) & mask
            req = reqs[e]
            rep = reps[e]
          end
          spins = budget
          while buf.get_value(:u32, req) != n
            if spins.positive?
              spins -= 1
              next
            end
            buf.set_value(:u32, req + 4, 1) # sleeping
            before = (n - slots) & U32
            futex.wait(req, before) if buf.get_value(:u32, req) == before
            buf.set_value(:u32, req + 4, 0)
          end
          @echo ? answer_echo(req + ENTRY_HEADER, rep + ENTRY_HEADER) : answer(e, req + ENTRY_HEADER, rep + ENTRY_HEADER)
          buf.set_value(:u32, rep, n)
          futex.wake(rep)
        end
      end

      # Reads the request frame at req_off, writes the reply frame at rep_off
      # (never the seq). The common case, a well-formed add request, is read
      # and answered with a few loads and stores in place; everything else
      # goes through the raw frame codec.
      def answer(entry, req_off, rep_off)
        buf = @buf
        if buf.get_value(:u64, req_off) == ADD_REQUEST_WORD && buf.get_value(:u64, req_off + 16) == 16
          x = buf.get_value(:s64, req_off + 24)
          y = buf.get_value(:s64, req_off + 32)
          r = x + y
          r = Workload.add(x, y) unless r >= FIX_MIN && r <= FIX_MAX
          unless @add_reply_header[entry]
            buf.set_value(:u64, rep_off, ADD_REPLY_WORD)
            buf.set_value(:u64, rep_off + 16, 8) # payload_len 8, reserved 0
            @add_reply_header[entry] = true
          end
          buf.set_value(:u64, rep_off + 8, buf.get_value(:u64, req_off + 8))
          buf.set_value(:s64, rep_off + 24, r)
        else
          @add_reply_header[entry] = false
          answer_frame(req_off, rep_off)
        end
      end

      def answer_frame(req_off, rep_off)
        buf = @buf
        magic, version, kind, _r1, id, len, _r2 = buf.get_string(req_off, HEADER_SIZE).unpack(R::HEADER_FORMAT)
        if magic != R::MAGIC || version != R::VERSION
          return error_reply(rep_off, 0, format("bad magic 0x%08x or version %d", magic, version))
        end
        if len > R::MAX_PAYLOAD || HEADER_SIZE + len > REQ_CAP
          return error_reply(rep_off, id, "payload_len #{len} exceeds #{R::MAX_PAYLOAD}")
        end

        if kind == R::KIND_ADD_REQUEST && len == 16
          x, y = buf.get_string(req_off + HEADER_SIZE, 16).unpack("q<q<")
          buf.set_string(R.encode_add_reply(id, Workload.add(x, y)), rep_off)
        elsif kind == R::KIND_SCORE_REQUEST
          begin
            features, model = R.parse_score_request(buf.get_string(req_off + HEADER_SIZE, len))
          rescue R::FrameError => e
            return error_reply(rep_off, id, e.message)
          end
          score, label = Workload.score(features, model)
          buf.set_string(R.encode_score_reply(id, score, label), rep_off)
        elsif kind == R::KIND_ADD_REQUEST
          error_reply(rep_off, id, "add request payload must be 16 bytes")
        else
          error_reply(rep_off, id, format("unknown kind 0x%02x", kind))
        end
      end

      # --echo: the request frame goes back unchanged when it fits the reply
      # slot (REP_CAP is below MAX_PAYLOAD, so that bounds payload_len too).
      # This is the floor, so it is no costlier than the add fast path: one
      # load and one copy from entry to entry inside the mapped buffer, with
      # no String made.
      def answer_echo(req_off, rep_off)
        buf = @buf
        len = buf.get_value(:u32, req_off + 16)
        if len > REP_CAP - HEADER_SIZE
          return error_reply(rep_off, buf.get_value(:u64, req_off + 8),
                             "payload_len #{len} does not fit the #{REP_CAP}-byte reply slot")
        end

        buf.copy(buf, rep_off, HEADER_SIZE + len, req_off)
      end

      def error_reply(rep_off, id, message)
        R.log_line($stderr, "bad request (id #{id}): #{message}")
        @buf.set_string(R.encode_error(id, message), rep_off)
      end
    end
  end
end
