# frozen_string_literal: true

require "minitest/autorun"
require_relative "support"
require_relative "../raw_frame"
require_relative "../workload"
require_relative "../transports/shm"

# The shm peer against a harness played in Ruby: the test creates the
# segment (/dev/shm/interop-spectrum-test-PID, 0600) per
# schemas/shm_layout.md (version 4: the slot capacities in the header),
# writes the header, starts the real peer, publishes requests and waits for
# replies with a timeout. The segment is unlinked in teardown, whatever
# happens.
class TestPeerShm < Minitest::Test
  include PeerTestSupport
  include CodecVectors
  S = Transports::Shm
  R = RawFrame
  RAMP_65536_HEX = "3fc0a764fd292938" # schemas/test_vectors.json, "ramp 65536, 4-byte UTF-8 model"

  # The harness side of one segment: `slots` entries each way, call n in
  # entry (n-1) mod slots, whose seq words hold n-slots until n is published.
  class Harness
    attr_reader :name, :path, :buf

    # `req_cap`/`rep_cap` go in the header; the entries are laid out with
    # `layout_caps` ([req, rep]), the same unless a test wants a header
    # that lies.
    def initialize(mode:, budget: 1000, magic: S::MAGIC, version: S::VERSION, req_cap: S::REQ_CAP,
                   rep_cap: S::REP_CAP, start_seq: 0, slots: 1, layout_caps: nil)
      @name = "/interop-spectrum-test-#{Process.pid}"
      @path = "/dev/shm#{@name}"
      File.unlink(@path) if File.exist?(@path) # a leftover of this very process
      @file = File.open(@path, File::RDWR | File::CREAT | File::EXCL, 0o600)
      @slots = slots
      @mask = [slots, 1].max - 1
      @req_cap, @rep_cap = layout_caps || [req_cap, rep_cap]
      @req_stride = S.stride(@req_cap)
      @rep_stride = S.stride(@rep_cap)
      @replies = S.replies_offset([slots, 1].max, @req_cap)
      size = S.segment_size([slots, 1].max, @req_cap, @rep_cap)
      @file.truncate(size)
      Warning[:experimental] = false
      @buf = IO::Buffer.map(@file, size, 0, 0)
      @buf.set_value(:u32, S::OFF_MAGIC, magic)
      @buf.set_value(:u32, S::OFF_VERSION, version)
      @buf.set_value(:u32, S::OFF_WAIT_MODE, mode)
      @buf.set_value(:u32, S::OFF_REQ_CAP, req_cap)
      @buf.set_value(:u32, S::OFF_REP_CAP, rep_cap)
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
    def req(n) = S::REQUESTS + (((n - 1) & @mask) * @req_stride)
    def rep(n) = @replies + (((n - 1) & @mask) * @rep_stride)

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
      raise ArgumentError, "frame larger than the request slot" if frame.bytesize > @req_cap

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
      raise "bad reply header" unless status == :ok && R::HEADER_SIZE + len <= @rep_cap

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

  def start(mode:, echo: false, flags: [], **harness_opts)
    @harness = Harness.new(mode: mode, **harness_opts)
    @peer = PeerProcess.new(["--transport=shm", "--address=#{@harness.name}"] + flags + (echo ? ["--echo"] : []))
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

  # JSON and protobuf frames in the slots (raw_frame.md, "Other codecs in
  # the frame"), answered as on a stream whatever --codec says; bounds by
  # kind, then by slot; a reply longer than the reply slot is one raw error.
  def test_json_and_protobuf_frames_in_the_slots
    h = start(mode: S::WAIT_FUTEX, budget: 100, slots: 2, flags: ["--codec=json"])
    codec_vectors.each do |v|
      kind, id, payload = h.call(form_bytes(v, "json_framed"))
      assert_equal [R::KIND_JSON_REPLY, v["request"]["id"]], [kind, id], v["name"]
      assert_json_reply(v, payload)
      assert_codec_bytes(v, "reply_protobuf_framed", R.encode_frame(*h.call(form_bytes(v, "protobuf_framed"))))
    end
    kind, id, payload = h.call(R.encode_frame(R::KIND_JSON_REQUEST, 31, '{"op":"add"}'))
    assert_equal [R::KIND_JSON_REPLY, 31], [kind, id]
    assert_equal 31, JSON.parse(payload)["id"]
    kind, id, payload = h.call(R.encode_frame(R::KIND_PROTOBUF_REQUEST, 32, "\x0A\xFF".b))
    assert_equal [R::KIND_PROTOBUF_REPLY, 32], [kind, id]
    assert_equal [32, :error], pb::Reply.decode(payload).then { |r| [r.id, r.result] }
    assert_error h.call(R.encode_header(R::KIND_JSON_REQUEST, 33, R::MAX_JSON_PAYLOAD + 1)), 33, "exceeds"
    assert_error h.call(R.encode_header(R::KIND_PROTOBUF_REQUEST, 34, S::REQ_CAP)), 34, "request slot"
    wrong = %({"id":35,"op":"batch","items":[#{(['{"op":"x"}'] * 200).join(',')}]})
    assert_error h.call(R.encode_frame(R::KIND_JSON_REQUEST, 35, wrong)), 35, "reply slot"
    check_calls(h)
    assert @peer.alive?
  end

  def test_echo_json_and_protobuf_frames
    h = start(mode: S::WAIT_SPIN, echo: true, flags: ["--codec=protobuf"])
    codec_vectors.first(6).each do |v|
      assert_echoed h, form_bytes(v, "json_framed")
      assert_echoed h, form_bytes(v, "protobuf_framed")
    end
    assert_echoed h, R.encode_frame(R::KIND_PROTOBUF_REQUEST, 1, "\xFF".b)
    assert_error h.call(R.encode_header(R::KIND_JSON_REQUEST, 2, S::REP_CAP)), 2, "reply slot"
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

  # A row of batches: capacities other than the single-call ones, from the
  # header, with calls in flight round a ring of 4 (so the strides count).
  BATCH_REQ_CAP = S::REQ_CAP + 65_536 # room for a batch longer than MAX_PAYLOAD
  BATCH_REP_CAP = 8192

  def test_batches_with_capacities_from_the_header
    h = start(mode: S::WAIT_SPIN, slots: 4, req_cap: BATCH_REQ_CAP, rep_cap: BATCH_REP_CAP, start_seq: S::U32 - 2)
    # The spelled-out vectors bit for bit; the 1,000-add one's reply (16,064
    # bytes) is longer than the reply slot: one error frame instead.
    vectors.first(3).each { |v| assert_vector_reply(v, h.call(request_frame(v))) }
    long = vectors[3]
    assert_operator long["reply_bytes"], :>, BATCH_REP_CAP
    assert_error h.call(request_frame(long)), long["id"], "the reply does not fit the reply slot"
    # A batch longer than MAX_PAYLOAD fits this request slot and is answered.
    frame = big_batch(20, adds: 400)
    assert_operator frame.bytesize, :>, S::REQ_CAP
    assert_big_batch_reply(h.call(frame), 20, adds: 400)
    # In flight: a batch, single calls and a wrong shape, each in its entry.
    h.post(request_frame(vectors[2]))
    h.post(R.encode_add_request(21, 1, 2))
    h.post(R.encode_header(R::KIND_BATCH_REQUEST, 22, 8) + [0, 0].pack("L<L<"))
    h.post(R.encode_score_request(23, Workload.ramp_features(256), "modèle-ü"))
    assert_vector_reply(vectors[2], h.take)
    kind, id, payload = h.take
    assert_equal [R::KIND_ADD_REPLY, 21, 3], [kind, id, R.parse_add_reply(payload)]
    assert_error h.take, 22, "batch count 0"
    kind, id, payload = h.take
    assert_equal [R::KIND_SCORE_REPLY, 23, "3fe376dba491b1ac"],
                 [kind, id, [R.parse_score_reply(payload)[0]].pack("G").unpack1("H*")]
    # payload_len past the request slot (within the batch bound): refused.
    assert_error h.call(R.encode_header(R::KIND_BATCH_REQUEST, 24, BATCH_REQ_CAP - R::HEADER_SIZE + 8)),
                 24, "request slot"
    check_calls(h)
    assert @peer.alive?
  end

  # The smallest capacities: a score that fits is answered, a header whose
  # payload_len passes the 4,096-byte request slot is refused.
  def test_smallest_capacities
    h = start(mode: S::WAIT_FUTEX, budget: 100, slots: 2, req_cap: S::MIN_CAP, rep_cap: S::MIN_CAP)
    kind, id, = h.call(R.encode_score_request(1, Workload.ramp_features(400), "m"))
    assert_equal [R::KIND_SCORE_REPLY, 1], [kind, id]
    assert_error h.call(R.encode_header(R::KIND_SCORE_REQUEST, 2, S::MIN_CAP)), 2, "request slot"
    assert_vector_reply(vectors[1], h.call(request_frame(vectors[1])))
    100.times { |i| assert_equal 2 * i, add(h, 100 + i, i, i) }
  end

  # --echo with capacities from the header: a batch frame longer than
  # MAX_PAYLOAD that fits both slots comes back unchanged; past the reply
  # slot, past the request slot, or past its kind's bound, an error frame.
  def test_echo_with_capacities_from_the_header
    h = start(mode: S::WAIT_SPIN, echo: true, req_cap: BATCH_REQ_CAP, rep_cap: BATCH_REQ_CAP)
    frame = big_batch(1, adds: 400)
    assert_operator frame.bytesize, :>, S::REQ_CAP
    assert_echoed h, frame
    assert_echoed h, request_frame(vectors[3])
    assert_error h.call(R.encode_header(R::KIND_BATCH_REQUEST, 2, BATCH_REQ_CAP)), 2, "slot"
    assert_error h.call(R.encode_header(R::KIND_SCORE_REQUEST, 3, R::MAX_PAYLOAD + 8)), 3, "exceeds"
    assert_echoed h, R.encode_add_request(4, 1, 2)
    @peer.cleanup
    @harness.cleanup
    h = start(mode: S::WAIT_SPIN, echo: true, req_cap: BATCH_REQ_CAP, rep_cap: BATCH_REP_CAP)
    assert_error h.call(frame), 1, "#{BATCH_REP_CAP}-byte reply slot"
    assert_echoed h, request_frame(vectors[2])
  end

  def test_wrong_header_exits_2
    [[{ magic: 0x12345678 }, "magic"],
     [{ version: 3 }, "version"],
     [{ req_cap: 4095 }, "request slot capacity"],
     [{ req_cap: 4100 }, "request slot capacity"],
     [{ req_cap: S::MAX_CAP + 8 }, "request slot capacity"],
     [{ rep_cap: 0 }, "reply slot capacity"],
     [{ rep_cap: S::MAX_CAP + 8 }, "reply slot capacity"],
     [{ slots: 3 }, "power of two"],
     # The header's capacities need a larger segment than the one made.
     [{ req_cap: S::REQ_CAP + 64, layout_caps: [S::REQ_CAP, S::REP_CAP] }, "need"],
     [{ slots: 2, rep_cap: 8192, layout_caps: [S::REQ_CAP, 4096] }, "need"]].each do |opts, part|
      @harness = Harness.new(mode: S::WAIT_SPIN, **opts)
      st, err = run_peer_to_exit("--transport=shm", "--address=#{@harness.name}")
      assert_equal 2, st.exitstatus, opts.inspect
      assert_includes err, part, opts.inspect
      @harness.cleanup
    end
    st, = run_peer_to_exit("--transport=shm", "--address=/interop-spectrum-test-missing-#{Process.pid}")
    assert_equal 2, st.exitstatus
  end
end
