# frozen_string_literal: true

# Shared memory (`shm`, schemas/shm_layout.md, version 4): --address is the
# POSIX shm name the harness created (/interop-spectrum-PID-TAG, i.e. the file
# /dev/shm/interop-spectrum-PID-TAG). The peer maps it read-write with
# IO::Buffer, checks the header (wrong magic, version, capacities or slots:
# exit 2), takes the entries' frame capacities REQ_CAP and REP_CAP from it
# (the harness sizes them per row: larger for a row of batches), and serves
# calls in order round the ring of S entries each way:
#
#   call n (from the header's `first` + 1) uses entry (n-1) mod S each way
#   wait until the request entry's seq turns to n (spin, or spin then futex)
#   read and check the request frame in the entry (raw_frame.md bounds, and
#   the frame must fit REQ_CAP)
#   write the reply frame into the reply entry (a batch reply too, answered
#   whole in this one thread, and a JSON or protobuf message's reply, frame
#   kinds 0x20 / 0x30 answered as on a stream whatever --codec says; a reply
#   longer than REP_CAP becomes one error frame instead; --echo: copy the
#   request frame there unchanged, if it fits)
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
    VERSION = 4
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
    # The capacities of a row of single calls (version 3's fixed ones); a
    # row of batches gets larger ones, in the header.
    REQ_CAP = 1_052_696 # 24 + MAX_PAYLOAD
    REP_CAP = 4096
    # Any capacity in the header: a multiple of 8 in this range.
    MIN_CAP = 4096
    MAX_CAP = 16_777_240 # 24 + MAX_BATCH_PAYLOAD
    REQUESTS = 64
    MAX_SLOTS = 1024
    U32 = 0xFFFF_FFFF

    # An entry's size for a frame capacity: its seq, sleeping and frame, to
    # whole cache lines.
    def self.stride(cap) = (ENTRY_HEADER + cap + 63) & ~63
    def self.replies_offset(slots, req_cap = REQ_CAP) = REQUESTS + (slots * stride(req_cap))

    def self.segment_size(slots, req_cap = REQ_CAP, rep_cap = REP_CAP)
      replies_offset(slots, req_cap) + (slots * stride(rep_cap))
    end

    # nil when a capacity from the header is one the layout allows.
    def self.cap_problem(cap)
      "not a multiple of 8 from #{MIN_CAP} to #{MAX_CAP}" unless cap.between?(MIN_CAP, MAX_CAP) && (cap % 8).zero?
    end

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

    # The segment as open_segment found it.
    Segment = Struct.new(:file, :buf, :mode, :spin_budget, :slots, :first, :req_cap, :rep_cap, keyword_init: true)

    # Maps the segment and checks its header. Returns a Segment;
    # ArgumentError (exit 2) for a segment that is not ours. The header is
    # read first (the segment's size depends on it), and every value in it
    # is checked before it sizes anything.
    def open_segment(path)
      file = begin
        File.open(path, File::RDWR)
      rescue SystemCallError => e
        raise ArgumentError, "shm: cannot open #{path}: #{e.message}"
      end
      size = file.size
      smallest = Shm.segment_size(1, MIN_CAP, MIN_CAP)
      if size < smallest
        file.close
        raise ArgumentError, "shm: #{path} is #{size} bytes, expected at least #{smallest} " \
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
        elsif version != VERSION then "unsupported version #{version} (this peer reads version #{VERSION})"
        elsif (why = Shm.cap_problem(req_cap)) then "request slot capacity #{req_cap}: #{why}"
        elsif (why = Shm.cap_problem(rep_cap)) then "reply slot capacity #{rep_cap}: #{why}"
        elsif mode != WAIT_SPIN && mode != WAIT_FUTEX then "unknown wait mode #{mode}"
        elsif slots < 1 || slots > MAX_SLOTS || slots.anybits?(slots - 1)
          "#{slots} slots, not a power of two up to #{MAX_SLOTS}"
        elsif size < Shm.segment_size(slots, req_cap, rep_cap)
          "#{size} bytes, its #{slots} slots of #{req_cap}/#{rep_cap}-byte capacities need " \
            "#{Shm.segment_size(slots, req_cap, rep_cap)}"
        end
      if problem
        buf.free
        file.close
        raise ArgumentError, "shm: #{path}: #{problem}"
      end
      Segment.new(file: file, buf: buf, mode: mode, spin_budget: buf.get_value(:u32, OFF_SPIN_BUDGET),
                  slots: slots, first: buf.get_value(:u32, OFF_FIRST), req_cap: req_cap, rep_cap: rep_cap)
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
      seg = nil
      begin
        seg = open_segment(path)
      ensure
        Warning[:experimental] = prev
      end
      futex = seg.mode == WAIT_FUTEX ? Futex.new(seg.file) : nil
      server = Server.new(seg.buf, seg.slots, seg.first, req_cap: seg.req_cap, rep_cap: seg.rep_cap,
                                                         echo: opts.echo)
      opts.ready(opts.address)
      # Serves until SIGTERM/SIGINT raise SystemExit (checked by the VM on
      # every loop iteration, and at the latest after a 100 ms futex wait).
      futex ? server.serve_futex(futex, seg.spin_budget) : server.serve_spin
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

      def initialize(buf, slots, first, req_cap: REQ_CAP, rep_cap: REP_CAP, echo: false)
        @buf = buf
        @echo = echo
        @slots = slots
        @first = first
        @req_cap = req_cap
        @rep_cap = rep_cap
        # --echo copies a frame of up to this payload with no further check:
        # it fits both slots and needs no look at its kind.
        @echo_fast_len = [req_cap, rep_cap, HEADER_SIZE + R::MAX_PAYLOAD].min - HEADER_SIZE
        replies = Shm.replies_offset(slots, req_cap)
        req_stride = Shm.stride(req_cap)
        rep_stride = Shm.stride(rep_cap)
        # Each entry's seq offset; its frame is ENTRY_HEADER further on.
        @reqs = Array.new(slots) { |e| REQUESTS + (e * req_stride) }
        @reps = Array.new(slots) { |e| replies + (e * rep_stride) }
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

      # Everything but a well-formed add: bounds first (the kind's, as on a
      # stream, then the request slot's), then the same answers as a stream
      # gives (RawFrame.answer_frame: a single call, a batch, or a JSON or
      # protobuf message in a frame of kind 0x20 / 0x30).
      def answer_frame(req_off, rep_off)
        buf = @buf
        magic, version, kind, _r1, id, len, _r2 = buf.get_string(req_off, HEADER_SIZE).unpack(R::HEADER_FORMAT)
        if magic != R::MAGIC || version != R::VERSION
          return error_reply(rep_off, 0, format("bad magic 0x%08x or version %d", magic, version))
        end
        if len > R.max_payload(kind)
          return error_reply(rep_off, id, "payload_len #{len} exceeds #{R.max_payload(kind)}")
        end
        if HEADER_SIZE + len > @req_cap
          return error_reply(rep_off, id, "payload_len #{len} does not fit the #{@req_cap}-byte request slot")
        end

        reply = R.answer_frame(kind, id, buf.get_string(req_off + HEADER_SIZE, len))
        # Only a batch reply or a JSON or protobuf one (a batch's) can outgrow
        # the slot (an error frame is at most 1,048 bytes, a score reply 45,
        # REP_CAP at least 4,096); then one raw error frame, as the C++ peer.
        if reply.bytesize > @rep_cap
          R.log_line($stderr, "request (id #{id}, kind 0x#{kind.to_s(16)}): its #{reply.bytesize}-byte reply " \
                              "is longer than the #{@rep_cap}-byte reply slot")
          return error_reply(rep_off, id, "the reply does not fit the reply slot")
        end
        buf.set_string(reply, rep_off)
      end

      # --echo: the request frame goes back unchanged when it fits the reply
      # slot. This is the floor, so it is no costlier than the add fast
      # path: one load, one comparison and one copy from entry to entry
      # inside the mapped buffer, with no String made. Only a frame longer
      # than @echo_fast_len has its kind and both slots looked at.
      def answer_echo(req_off, rep_off)
        buf = @buf
        len = buf.get_value(:u32, req_off + 16)
        return buf.copy(buf, rep_off, HEADER_SIZE + len, req_off) if len <= @echo_fast_len

        id = buf.get_value(:u64, req_off + 8)
        if len > @rep_cap - HEADER_SIZE
          error_reply(rep_off, id, "payload_len #{len} does not fit the #{@rep_cap}-byte reply slot")
        elsif len > @req_cap - HEADER_SIZE
          error_reply(rep_off, id, "payload_len #{len} does not fit the #{@req_cap}-byte request slot")
        elsif len > (max = R.max_payload(buf.get_value(:U8, req_off + 5)))
          error_reply(rep_off, id, "payload_len #{len} exceeds #{max}")
        else
          buf.copy(buf, rep_off, HEADER_SIZE + len, req_off)
        end
      end

      def error_reply(rep_off, id, message)
        R.log_line($stderr, "bad request (id #{id}): #{message}")
        @buf.set_string(R.encode_error(id, message), rep_off)
      end
    end
  end
end
