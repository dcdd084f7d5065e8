# frozen_string_literal: true

require "minitest/autorun"
require_relative "support"
require_relative "../raw_frame"
require_relative "../workload"
require_relative "../transports/shm"

# The shm peer against a harness played in Ruby: the test creates the
# segment (/dev/shm/interop-spectrum-test-PID, 0600) per
# schemas/shm_layout.md, writes the header, starts the real peer, publishes
# requests and waits for replies with a timeout. The segment is unlinked in
# teardown, whatever happens.
class TestPeerShm < Minitest::Test
  include PeerTestSupport
  S = Transports::Shm
  R = RawFrame
  RAMP_65536_HEX = "3fc0a764fd292938" # schemas/test_vectors.json, "ramp 65536, 4-byte UTF-8 model"

  # The harness side of one segment: `slots` entries each way, call n in
  # entry (n-1) mod slots, whose seq words hold n-slots until n is published.
  class Harness
    attr_reader :name, :path, :buf

    def initialize(mode:, budget: 1000, magic: S::MAGIC, version: S::VERSION, req_cap: S::REQ_CAP, start_seq: 0,
                   slots: 1)
      @name = "/interop-spectrum-test-#{Process.pid}"
      @path = "/dev/shm#{@name}"
      File.unlink(@path) if File.exist?(@path) # a leftover of this very process
      @file = File.open(@path, File::RDWR | File::CREAT | File::EXCL, 0o600)
      @slots = slots
      @mask = [slots, 1].max - 1
      @replies = S.replies_offset([slots, 1].max)
      size = S.segment_size([slots, 1].max)
      @file.truncate(size)
      Warning[:experimental] = false
      @buf = IO::Buffer.map(@file, size, 0, 0)
      @buf.set_value(:u32, S::OFF_MAGIC, magic)
      @buf.set_value(:u32, S::OFF_VERSION, version)
      @buf.set_value(:u32, S::OFF_WAIT_MODE, mode)
      @buf.set_value(:u32, S::OFF_REQ_CAP, req_cap)
      @buf.set_value(:u32, S::OFF_REP_CAP, S::REP_CAP)
      @buf.set_value(:u32, S::OFF_SPIN_BUDGET, budget)
      @buf.set_value(:u32, S::OFF_SLOTS, slots)
      @buf.set_value(:u32, S::OFF_FIRST, start_seq)
      (1..[slots, 1].max).each do |k|
        n = (start_seq + k) & S::U32
        @buf.set_value(:u32, req(n), (n - slots) & S::U32)
        @buf.set_value(:u32, rep(n), (n - slots) & S::U32)
      end
      @seq = @taken = start_seq
      @futex = mode == S::WAIT_FUTEX ? S::Futex.new(@file) : nil
    end

    # Offsets of call n's request and reply entries (the seq word; the frame is at +8).
    def req(n) = S::REQUESTS + (((n - 1) & @mask) * S::REQ_STRIDE)
    def rep(n) = @replies + (((n - 1) & @mask) * S::REP_STRIDE)

    # Is the peer asleep on the next call's request entry?
    def peer_sleeping?
      @buf.get_value(:u32, req((@seq + 1) & S::U32) + 4) == 1
    end

    # Publishes one request frame and returns [kind, id, payload] of the reply.
    def call(frame, timeout: PeerTestSupport::TIMEOUT)
      post(frame)
      take(timeout: timeout)
    end

    # Publishes `frame` as the next call, without waiting.
    def post(frame)
      raise ArgumentError, "frame larger than the request slot" if frame.bytesize > S::REQ_CAP

      @seq = (@seq + 1) & S::U32
      @buf.set_string(frame, req(@seq) + S::ENTRY_HEADER)
      @buf.set_value(:u32, req(@seq), @seq)
      @futex&.wake(req(@seq)) # no fence here either: always wake
    end

    # Waits for the reply to the oldest call not taken: [kind, id, payload].
    def take(timeout: PeerTestSupport::TIMEOUT)
      @taken = (@taken + 1) & S::U32
      deadline = PeerTestSupport.now + timeout
      spins = 0
      until @buf.get_value(:u32, rep(@taken)) == @taken
        spins += 1
        next unless (spins & 0x3FF).zero?
        raise PeerTestSupport::Timeout, "no reply to seq #{@taken} within #{timeout}s" if PeerTestSupport.now > deadline

        Thread.pass
      end
      slot = last_reply
      status, kind, id, len = R.decode_header(@buf.get_string(slot, R::HEADER_SIZE))
      raise "bad reply header" unless status == :ok && R::HEADER_SIZE + len <= S::REP_CAP

      [kind, id, @buf.get_string(slot + R::HEADER_SIZE, len)]
    end

    # Where the frame of the last reply taken starts.
    def last_reply = rep(@taken) + S::ENTRY_HEADER

    def cleanup
      @buf&.free
      @file&.close
      File.unlink(@path) if File.exist?(@path)
    end
  end

  def setup
    skip "shm needs x86-64" unless RbConfig::CONFIG["host_cpu"] == "x86_64"
  end

  def teardown
    @peer&.cleanup
    @harness&.cleanup
    refute File.exist?("/dev/shm/interop-spectrum-test-#{Process.pid}"), "segment left behind"
  end

  def start(mode:, echo: false, **harness_opts)
    @harness = Harness.new(mode: mode, **harness_opts)
    @peer = PeerProcess.new(["--transport=shm", "--address=#{@harness.name}"] + (echo ? ["--echo"] : []))
    assert_equal @harness.name, @peer.address
    @harness
  end

  def add(h, id, x, y)
    kind, rid, payload = h.call(R.encode_add_request(id, x, y))
    assert_equal [R::KIND_ADD_REPLY, id], [kind, rid], payload
    R.parse_add_reply(payload)
  end

  def assert_error(reply, id, part)
    kind, rid, payload = reply
    assert_equal [R::KIND_ERROR, id], [kind, rid]
    assert_includes payload, part
  end

  def check_calls(h)
    assert_equal MIN64, add(h, 1, MAX64, 1)
    assert_equal MAX64, add(h, 2, MIN64, -1)
    kind, id, payload = h.call(R.encode_score_request(3, Workload.ramp_features(65_536), "m\u{1F600}"))
    assert_equal [R::KIND_SCORE_REPLY, 3], [kind, id]
    score, label = R.parse_score_reply(payload)
    assert_equal RAMP_65536_HEX, [score].pack("G").unpack1("H*")
    assert_equal "legit", label
    100.times { |i| assert_equal 2 * i, add(h, 100 + i, i, i) }
  end

  def test_spin_mode_round_trips_and_sequence_wrap
    h = start(mode: S::WAIT_SPIN, start_seq: 0xFFFF_FFFE) # wraps to 0 on the 2nd call
    check_calls(h)
    refute h.peer_sleeping?
  end

  # Eight calls published before any reply is taken, round a ring of 8 (and
  # of 16, half used), across the wrap at 2^32: every reply in its own
  # entry, answering its own request.
  def test_calls_in_flight_round_the_ring
    [[S::WAIT_SPIN, 8], [S::WAIT_FUTEX, 8], [S::WAIT_SPIN, 16]].each do |mode, slots|
      h = start(mode: mode, budget: 50, slots: slots, start_seq: S::U32 - 20)
      6.times do |round|
        ids = (1..8).map { |i| (round * 8) + i }
        ids.each { |i| h.post(R.encode_add_request(i, i, 1000)) }
        ids.each do |i|
          kind, id, payload = h.take
          assert_equal [R::KIND_ADD_REPLY, i, i + 1000], [kind, id, R.parse_add_reply(payload)]
        end
      end
      check_calls(h)
      @peer.cleanup
      @harness.cleanup
    end
  end

  def test_futex_mode_sleeps_when_idle_and_is_woken
    h = start(mode: S::WAIT_FUTEX, budget: 100, start_seq: 0xFFFF_FFF0) # sleeps on a seq > INT32_MAX
    wait_until("the peer to sleep on its request entry") { h.peer_sleeping? }
    check_calls(h)
    wait_until("the peer to sleep on its request entry") { h.peer_sleeping? }
    # Woken by the FUTEX_WAKE of the call (or, were the wake lost, by its
    # 100 ms timeout: not timed here, a loaded machine would make it flaky).
    assert_equal 7, add(h, 9, 3, 4)
    wait_until("the peer to sleep again") { h.peer_sleeping? }
  end

  def test_bad_frames_get_error_replies_and_serving_goes_on
    h = start(mode: S::WAIT_SPIN)
    assert_error h.call("JUNK".b + R.encode_add_request(5, 1, 2).byteslice(4..)), 0, "bad magic"
    assert_error h.call(R.encode_header(R::KIND_SCORE_REQUEST, 6, R::MAX_PAYLOAD + 1)), 6, "exceeds"
    assert_error h.call(R.encode_header(R::KIND_SCORE_REQUEST, 7, 8) + [131_073, 0].pack("L<L<")), 7, "131072"
    assert_error h.call(R.encode_header(R::KIND_SCORE_REQUEST, 8, 16) + [5, 0, 0, 0].pack("L<4")), 8, "does not match"
    assert_error h.call(R.encode_header(0x07, 9, 4) + "abcd"), 9, "unknown kind"
    assert_error h.call(R.encode_header(R::KIND_ADD_REQUEST, 10, 8) + "\0" * 8), 10, "16 bytes"
    assert_equal 3, add(h, 11, 1, 2)
    assert @peer.alive?
  end

  # The reply slot holds exactly the request frame after the call.
  def assert_echoed(h, frame)
    h.call(frame)
    assert_equal frame, h.buf.get_string(h.last_reply, frame.bytesize)
  end

  # --echo: every frame that fits the 4,096-byte reply slot comes back byte
  # for byte, undecoded; one byte more gets an error frame, and serving goes on.
  def check_echo(h)
    assert_echoed h, R.encode_add_request(1, MAX64, 1)
    assert_echoed h, R.encode_score_request(2, Workload.ramp_features(256), "modèle-ü")
    assert_echoed h, R.encode_header(0x07, 3, 4) + "\xFF\x00ab".b # unknown kind: not looked at
    largest = S::REP_CAP - R::HEADER_SIZE
    assert_echoed h, R.encode_header(R::KIND_SCORE_REQUEST, 4, largest) + "\xA5".b * largest
    assert_error h.call(R.encode_header(R::KIND_SCORE_REQUEST, 5, largest + 1) + "\xA5".b * (largest + 1)),
                 5, "reply slot"
    assert_error h.call(R.encode_score_request(6, Workload.ramp_features(1000), "m")), 6, "reply slot"
    assert_error h.call(R.encode_header(R::KIND_SCORE_REQUEST, 7, R::MAX_PAYLOAD + 1)), 7, "reply slot"
    100.times { |i| assert_echoed h, R.encode_add_request(100 + i, i, -i) }
    assert @peer.alive?
  end

  def test_echo_spin
    check_echo(start(mode: S::WAIT_SPIN, echo: true))
  end

  def test_echo_futex
    h = start(mode: S::WAIT_FUTEX, budget: 100, echo: true)
    check_echo(h)
    wait_until("the peer to sleep on its request entry") { h.peer_sleeping? }
    assert_echoed h, R.encode_add_request(9, 3, 4)
  end

  def test_term_exits_0_and_leaves_the_segment
    h = start(mode: S::WAIT_FUTEX)
    assert_equal 3, add(h, 1, 1, 2)
    assert_exits_0_on_term
    assert File.exist?(h.path), "the peer must not unlink the segment"
  end

  def test_wrong_header_exits_2
    @harness = Harness.new(mode: S::WAIT_SPIN, magic: 0x12345678)
    st, err = run_peer_to_exit("--transport=shm", "--address=#{@harness.name}")
    assert_equal 2, st.exitstatus
    assert_includes err, "magic"
    @harness.cleanup
    @harness = Harness.new(mode: S::WAIT_SPIN, req_cap: 4096)
    st, err = run_peer_to_exit("--transport=shm", "--address=#{@harness.name}")
    assert_equal 2, st.exitstatus
    assert_includes err, "capacities"
    @harness.cleanup
    @harness = Harness.new(mode: S::WAIT_SPIN, version: 1)
    st, err = run_peer_to_exit("--transport=shm", "--address=#{@harness.name}")
    assert_equal 2, st.exitstatus
    assert_includes err, "version"
    @harness.cleanup
    @harness = Harness.new(mode: S::WAIT_SPIN, slots: 3)
    st, err = run_peer_to_exit("--transport=shm", "--address=#{@harness.name}")
    assert_equal 2, st.exitstatus
    assert_includes err, "power of two"
    st, = run_peer_to_exit("--transport=shm", "--address=/interop-spectrum-test-missing-#{Process.pid}")
    assert_equal 2, st.exitstatus
  end
end
