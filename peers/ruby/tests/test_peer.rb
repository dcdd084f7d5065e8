# frozen_string_literal: true

require "minitest/autorun"
require "socket"
require_relative "../raw_frame"
require_relative "support"

# Starts the real peer (ruby peer.rb ...) as a subprocess in its own process
# group and talks to it over unix, tcp and pipe. Every wait has a timeout;
# every test stops its peer and removes its temp dir.
module PeerTestSupport
  # A client stream: write frames, read frames, each read with a timeout.
  class Client
    def initialize(input, output)
      @in = input
      @out = output
    end

    def send_bytes(bytes)
      @out.write(bytes)
      @out.flush
    end

    # n bytes, or nil on EOF/reset before them (a short read is also nil).
    def read_exact(n)
      buf = +"".b
      deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + TIMEOUT
      while buf.bytesize < n
        chunk = @in.read_nonblock(n - buf.bytesize, exception: false)
        case chunk
        when nil then return nil
        when :wait_readable
          left = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
          raise Timeout, "no reply within #{TIMEOUT}s" if left <= 0

          @in.wait_readable(left)
        else
          buf << chunk
        end
      end
      buf
    rescue Errno::ECONNRESET
      nil
    end

    # [kind, id, payload], or nil when the peer closed the stream.
    def read_frame
      header = read_exact(R::HEADER_SIZE) or return nil
      status, kind, id, len = R.decode_header(header)
      raise "bad reply header #{header.unpack1('H*')}" unless status == :ok

      payload = len.zero? ? "".b : read_exact(len)
      raise "reply truncated" unless payload

      [kind, id, payload]
    end

    def call(bytes)
      send_bytes(bytes)
      read_frame or raise "peer closed the stream"
    end

    def add(id, x, y)
      kind, rid, payload = call(R.encode_add_request(id, x, y))
      raise "expected add reply, got kind #{kind}: #{payload}" unless kind == R::KIND_ADD_REPLY
      raise "id #{rid} != #{id}" unless rid == id

      R.parse_add_reply(payload)
    end

    def closed?
      read_frame.nil?
    end

    def close
      [@in, @out].uniq.each { |io| io.close unless io.closed? }
    end
  end

  # ---------------------------------------------------------------- checks

  def check_add_overflow(client)
    assert_equal MIN64, client.add(0xFEDC_BA98_7654_3210, MAX64, 1)
    assert_equal MAX64, client.add(2, MIN64, -1)
    assert_equal 5, client.add(3, 2, 3)
  end

  def check_score_ramp(client)
    kind, id, payload = client.call(R.encode_score_request(77, Workload.ramp_features(256), "modèle-ü"))
    assert_equal [R::KIND_SCORE_REPLY, 77], [kind, id]
    score, label = R.parse_score_reply(payload)
    assert_equal "3fe376dba491b1ac", [score].pack("G").unpack1("H*")
    assert_equal "fraud", label
  end

  def assert_error_reply(frame, id, message_part = nil)
    refute_nil frame, "expected an error reply, the stream was closed"
    kind, rid, payload = frame
    assert_equal R::KIND_ERROR, kind
    assert_equal id, rid
    assert_operator payload.bytesize, :<=, 1024
    assert_includes payload, message_part if message_part
  end

  def check_wrong_kind_then_valid(client)
    assert_error_reply client.call(R.encode_header(0x07, 21, 4) + "abcd"), 21, "unknown kind"
    assert_equal 7, client.add(22, 3, 4)
  end

  def check_bad_payloads_keep_serving(client)
    assert_error_reply client.call(R.encode_header(R::KIND_SCORE_REQUEST, 31, 16) + [5, 0, 0, 0].pack("L<4")),
                       31, "does not match"
    assert_error_reply client.call(R.encode_header(R::KIND_ADD_REQUEST, 32, 8) + "\0" * 8), 32, "16 bytes"
    bad_model = "\xC3\x28".b
    assert_error_reply client.call(R.encode_header(R::KIND_SCORE_REQUEST, 33, 8 + bad_model.bytesize) +
                                   [0, bad_model.bytesize].pack("L<L<") + bad_model), 33, "UTF-8"
    assert_error_reply client.call(R.encode_header(R::KIND_SCORE_REQUEST, 34, 8) + [131_073, 0].pack("L<L<")),
                       34, "131072"
    assert_equal 11, client.add(35, 5, 6)
  end

  # Batch frames (raw_frame.md, Batches): each raw_batch vector answered
  # bit for bit, a wrong shape refused with one error frame and the stream
  # going on, a batch longer than MAX_PAYLOAD read and answered.
  def check_batches(client)
    vectors.each { |v| assert_vector_reply(v, client.call(request_frame(v))) }
    assert_error_reply client.call(R.encode_header(R::KIND_BATCH_REQUEST, 81, 8) + [0, 0].pack("L<L<")),
                       81, "batch count 0"
    # Bytes left over after the last item: the header's payload_len says
    # where the frame ends, so the stream stays in step.
    good = R.payload_of(R.encode_batch(R::KIND_BATCH_REQUEST, 82, [[R::KIND_ADD_REQUEST, "\0" * 16]]))
    assert_error_reply client.call(R.encode_header(R::KIND_BATCH_REQUEST, 82, good.bytesize + 8) + good + "\0" * 8),
                       82, "after the last batch item"
    assert_big_batch_reply(client.call(big_batch(83)), 83)
    assert_equal 3, client.add(84, 1, 2)
  end

  # --echo: a batch frame longer than MAX_PAYLOAD comes back unchanged.
  def check_echo_batch(client)
    frame = big_batch(91)
    assert_operator frame.bytesize, :>, R::HEADER_SIZE + R::MAX_PAYLOAD
    client.send_bytes(frame)
    assert_equal frame, client.read_exact(frame.bytesize)
    frame = request_frame(vectors[2])
    client.send_bytes(frame)
    assert_equal frame, client.read_exact(frame.bytesize)
  end

  # JSON and protobuf frames (raw_frame.md, "Other codecs in the frame"),
  # whatever the peer's --codec: every codecs vector in both, a JSON reply
  # decoding to the reference, a protobuf reply equal to the C++ peer's bit
  # for bit; a bad message of each codec gets that codec's error reply with
  # the header's id, and the stream goes on, raw calls too.
  def check_codec_frames(client)
    codec_vectors.each do |v|
      kind, id, payload = client.call(form_bytes(v, "json_framed"))
      assert_equal [R::KIND_JSON_REPLY, v["request"]["id"]], [kind, id], v["name"]
      assert_json_reply(v, payload)
      assert_codec_bytes(v, "reply_protobuf_framed", R.encode_frame(*client.call(form_bytes(v, "protobuf_framed"))))
    end
    kind, id, payload = client.call(R.encode_frame(R::KIND_JSON_REQUEST, 201, "{not json"))
    assert_equal [R::KIND_JSON_REPLY, 201], [kind, id]
    reply = JSON.parse(payload)
    assert_equal 201, reply["id"]
    assert_kind_of String, reply["error"]
    kind, id, payload = client.call(R.encode_frame(R::KIND_PROTOBUF_REQUEST, 202, "\xFF\xFF\xFF".b))
    assert_equal [R::KIND_PROTOBUF_REPLY, 202], [kind, id]
    reply = pb::Reply.decode(payload)
    assert_equal [202, :error], [reply.id, reply.result]
    assert_equal 7, client.add(203, 3, 4)
  end

  # A JSON frame over MAX_JSON_BYTES is refused before it is read: a raw
  # error frame with its id, then the stream is closed.
  def check_json_frame_too_long(client)
    client.send_bytes(R.encode_header(R::KIND_JSON_REQUEST, 204, R::MAX_JSON_PAYLOAD + 1))
    assert_error_reply client.read_frame, 204, R::MAX_JSON_PAYLOAD.to_s
  end

  def check_echo(client)
    frames = [R.encode_add_request(1, MAX64, 1),
              R.encode_score_request(2, Workload.ramp_features(1000), "m"),
              R.encode_header(0x33, 3, 0),
              R.encode_header(0x44, 4, 7) + "\xFF\x00garb!".b]
    frames.each { |f| client.send_bytes(f) }
    frames.each { |f| assert_equal f, client.read_exact(f.bytesize) }
  end
end

# Tests shared by the two socket transports (unix, tcp).
module SocketPeerTests
  include PeerTestSupport
  include CodecVectors

  def teardown
    @clients&.each(&:close)
    @peer&.cleanup
  end

  def start(*flags, echo: false)
    @peer = PeerProcess.new(peer_args + flags + (echo ? ["--echo"] : []))
  end

  def client
    c = Client.new(*[connect(@peer.address)] * 2)
    (@clients ||= []) << c
    c
  end

  def test_add_and_score
    start
    c = client
    check_add_overflow(c)
    check_score_ramp(c)
  end

  def test_wrong_kind_gets_error_and_connection_keeps_serving
    start
    check_wrong_kind_then_valid(client)
    assert_includes @peer.stderr, "unknown kind"
  end

  def test_bad_payloads_get_errors_and_connection_keeps_serving
    start
    check_bad_payloads_keep_serving(client)
    assert_operator @peer.stderr.lines.size, :>=, 4
  end

  def test_payload_too_long_gets_error_and_close
    start
    c = client
    c.send_bytes(R.encode_header(R::KIND_SCORE_REQUEST, 41, R::MAX_PAYLOAD + 1))
    assert_error_reply c.read_frame, 41, "exceeds"
    assert c.closed?, "connection should be closed after payload_len too big"
    assert_equal 3, client.add(42, 1, 2)
    assert @peer.alive?
  end

  def test_bad_magic_closes_connection_peer_stays
    start
    c = client
    c.send_bytes("JUNK".b + R.encode_add_request(51, 1, 2).byteslice(4..))
    assert_error_reply c.read_frame, 0
    assert c.closed?
    assert_equal 3, client.add(52, 1, 2)
    assert @peer.alive?
  end

  def test_eof_mid_frame_and_stalled_client_do_not_hurt_others
    start
    stalled = client
    stalled.send_bytes(R.encode_add_request(61, 1, 2).byteslice(0, 30)) # half a payload
    cut = client
    cut.send_bytes(R.encode_add_request(62, 1, 2).byteslice(0, 10))
    cut.close
    assert_equal 3, client.add(63, 1, 2) # served while `stalled` is stuck
    assert @peer.alive?
  end

  def test_concurrent_connections
    start
    threads = 4.times.map do |t|
      Thread.new do
        c = client
        50.times.all? { |i| c.add(t * 1000 + i, i, t) == i + t }
      end
    end
    assert threads.map { |th| th.join(TIMEOUT * 2)&.value }.all?
  end

  def test_echo
    start(echo: true)
    check_echo(client)
    check_echo_batch(client)
    c = client
    c.send_bytes(R.encode_header(R::KIND_ADD_REQUEST, 71, R::MAX_PAYLOAD + 1))
    assert_error_reply c.read_frame, 71
    assert c.closed?
    c = client
    c.send_bytes(R.encode_header(R::KIND_BATCH_REQUEST, 72, R::MAX_BATCH_PAYLOAD + 1))
    assert_error_reply c.read_frame, 72
    assert c.closed?
  end

  def test_batches
    start
    c = client
    check_batches(c)
    check_add_overflow(c)
  end

  # payload_len is bounded by the header's kind: over MAX_BATCH_PAYLOAD a
  # batch is refused before anything is read, and the connection closed.
  def test_batch_too_long_gets_error_and_close
    start
    c = client
    c.send_bytes(R.encode_header(R::KIND_BATCH_REQUEST, 73, R::MAX_BATCH_PAYLOAD + 1))
    assert_error_reply c.read_frame, 73, R::MAX_BATCH_PAYLOAD.to_s
    assert c.closed?
    assert_equal 3, client.add(74, 1, 2)
    assert @peer.alive?
  end

  def test_term_exits_0
    start
    assert_equal 3, client.add(1, 1, 2)
    assert_exits_0_on_term
  end

  # The kind says the codec: a raw row answers JSON and protobuf frames, on
  # two connections at once (the protobuf code loads at the first).
  def test_json_and_protobuf_frames
    start
    a = client
    b = client
    threads = [a, b].map { |c| Thread.new { check_codec_frames(c) } }
    threads.each { |t| assert t.join(TIMEOUT * 3), "codec frames timed out" }
    threads.each(&:value)
    check_add_overflow(a)
    assert_operator @peer.stderr.lines.size, :>=, 4 # one line per bad message
  end

  # --codec=json and --codec=protobuf are accepted, and change nothing of
  # what is answered: every kind still is.
  def test_codec_flags_and_a_json_frame_too_long
    %w[json protobuf].each do |codec|
      start("--codec=#{codec}")
      c = client
      check_codec_frames(c)
      check_batches(c)
      check_json_frame_too_long(c)
      assert c.closed?, "connection should be closed after a JSON frame too long"
      assert_equal 3, client.add(205, 1, 2)
      assert @peer.alive?
      @clients.each(&:close)
      @peer.cleanup
    end
  end

  def test_echo_json_and_protobuf_frames
    start("--codec=protobuf", echo: true)
    c = client
    frames = codec_vectors.map { |v| [form_bytes(v, "json_framed"), form_bytes(v, "protobuf_framed")] }.flatten
    frames << R.encode_frame(R::KIND_JSON_REQUEST, 1, "{not json") << R.encode_frame(R::KIND_PROTOBUF_REQUEST, 2, "\xFF".b)
    frames.each { |f| c.send_bytes(f) }
    frames.each { |f| assert_equal f, c.read_exact(f.bytesize) }
    check_json_frame_too_long(c)
    assert c.closed?
  end
end

class TestPeerUnix < Minitest::Test
  include SocketPeerTests

  def peer_args
    ["--transport=unix", "--address=%TMP%/s.sock"]
  end

  def connect(address)
    UNIXSocket.new(address)
  end

  def test_socket_is_0600_and_removed_on_exit
    start
    path = @peer.address
    assert_equal File.join(@peer.tmpdir, "s.sock"), path
    assert File.socket?(path)
    assert_equal 0o600, File.stat(path).mode & 0o777
    @peer.signal("INT")
    st = @peer.wait_exit(TIMEOUT)
    refute_nil st
    assert_equal 0, st.exitstatus
    refute File.exist?(path), "socket file left behind"
  end
end

class TestPeerTcp < Minitest::Test
  include SocketPeerTests

  def peer_args
    ["--transport=tcp", "--address=127.0.0.1:0"]
  end

  def connect(address)
    host, port = address.split(":")
    TCPSocket.new(host, Integer(port))
  end

  def test_ready_names_the_real_port
    start
    assert_match(/\A127\.0\.0\.1:[1-9]\d*\z/, @peer.address)
  end
end

class TestPeerPipe < Minitest::Test
  include PeerTestSupport
  include CodecVectors

  def teardown
    @peer&.cleanup
  end

  def start(*flags, echo: false)
    @peer = PeerProcess.new(["--transport=pipe", "--address=-"] + flags + (echo ? ["--echo"] : []), pipe: true)
    assert_equal "-", @peer.address
    Client.new(@peer.stdout, @peer.stdin)
  end

  def finish_and_status(client_stdin_close: true)
    @peer.stdin.close if client_stdin_close
    st = @peer.wait_exit(TIMEOUT)
    refute_nil st, "pipe peer did not exit"
    st
  end

  def test_requests_then_eof_exits_0
    c = start
    check_add_overflow(c)
    check_score_ramp(c)
    check_wrong_kind_then_valid(c)
    check_bad_payloads_keep_serving(c)
    assert_equal 0, finish_and_status.exitstatus
    assert_nil c.read_frame # nothing else came out on stdout
  end

  def test_bad_magic_exits_3
    c = start
    c.send_bytes("JUNK".b + R.encode_add_request(1, 1, 2).byteslice(4..))
    assert_error_reply c.read_frame, 0
    assert_equal 3, finish_and_status(client_stdin_close: false).exitstatus
  end

  def test_payload_too_long_exits_3
    c = start
    c.send_bytes(R.encode_header(R::KIND_SCORE_REQUEST, 9, R::MAX_PAYLOAD + 1))
    assert_error_reply c.read_frame, 9
    assert_equal 3, finish_and_status(client_stdin_close: false).exitstatus
  end

  def test_eof_inside_a_frame_exits_3
    c = start
    c.send_bytes(R.encode_add_request(1, 1, 2).byteslice(0, 30))
    assert_equal 3, finish_and_status.exitstatus
  end

  def test_echo
    c = start(echo: true)
    check_echo(c)
    check_echo_batch(c)
    assert_equal 0, finish_and_status.exitstatus
  end

  def test_batches_then_eof_exits_0
    c = start
    check_batches(c)
    assert_equal 0, finish_and_status.exitstatus
  end

  def test_json_and_protobuf_frames_then_a_json_frame_too_long_exits_3
    c = start("--codec=json")
    check_codec_frames(c)
    check_add_overflow(c)
    check_json_frame_too_long(c)
    assert_equal 3, finish_and_status(client_stdin_close: false).exitstatus
  end

  # Without the generated protobuf code a raw row still serves: a protobuf
  # frame gets a raw error frame (no codec can answer it), a JSON frame its
  # answer; a row told --codec=protobuf refuses to start instead.
  def test_without_the_protobuf_code
    Dir.mktmpdir("ruby-peer-test-") do |empty|
      @peer = PeerProcess.new(["--transport=pipe", "--address=-"], pipe: true, env: { "INTEROP_GENERATED_DIR" => empty })
      c = Client.new(@peer.stdout, @peer.stdin)
      assert_error_reply c.call(form_bytes(codec_vectors[0], "protobuf_framed")), 7, "cannot answer"
      kind, id, payload = c.call(form_bytes(codec_vectors[0], "json_framed"))
      assert_equal [R::KIND_JSON_REPLY, 7], [kind, id]
      assert_json_reply(codec_vectors[0], payload)
      assert_equal 0, finish_and_status.exitstatus
      assert_includes @peer.stderr, "generated protobuf code not found"

      %w[pipe unix shm redis file].each do |transport|
        st, err = run_peer_to_exit("--transport=#{transport}", "--address=#{empty}/x", "--codec=protobuf",
                                   env: { "INTEROP_GENERATED_DIR" => empty })
        assert_equal 1, st.exitstatus, "#{transport}: #{err}"
        assert_includes err, "generated protobuf code not found in #{File.join(empty, 'ruby')}"
        assert_equal 1, err.lines.size, err
      end
    end
  end

  def test_batch_too_long_exits_3
    c = start
    c.send_bytes(R.encode_header(R::KIND_BATCH_REQUEST, 9, R::MAX_BATCH_PAYLOAD + 1))
    assert_error_reply c.read_frame, 9, R::MAX_BATCH_PAYLOAD.to_s
    assert_equal 3, finish_and_status(client_stdin_close: false).exitstatus
  end
end

class TestPeerCli < Minitest::Test
  def run_peer(*args)
    err_r, err_w = IO.pipe
    pid = Process.spawn(RbConfig.ruby, PeerTestSupport::PEER, *args,
                        in: File::NULL, out: File::NULL, err: err_w, pgroup: true)
    err_w.close
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + PeerTestSupport::TIMEOUT
    st = nil
    until (st = Process.wait2(pid, Process::WNOHANG)&.last)
      if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
        Process.kill("KILL", -pid)
        Process.wait(pid)
        flunk "peer #{args.join(' ')} did not exit"
      end
      sleep 0.01
    end
    [st, err_r.read]
  ensure
    err_r&.close
  end

  def test_unknown_transport_exits_2_listing_valid_ones
    st, err = run_peer("--transport=carrier-pigeon", "--address=x")
    assert_equal 2, st.exitstatus
    %w[unix tcp pipe].each { |t| assert_includes err, t }
  end

  def test_unsupported_codec_exits_2
    [%w[unix msgpack], %w[file msgpack], %w[redis-stream avro], %w[rest protobuf], %w[grpc json]].each do |transport, codec|
      st, err = run_peer("--transport=#{transport}", "--address=/nonexistent/x.sock", "--codec=#{codec}")
      assert_equal 2, st.exitstatus, "#{transport} #{codec}"
      assert_includes err, "codec"
    end
  end

  def test_non_loopback_tcp_exits_2
    st, = run_peer("--transport=tcp", "--address=0.0.0.0:0")
    assert_equal 2, st.exitstatus
  end

  def test_unknown_transport_lists_the_new_ones
    _st, err = run_peer("--transport=carrier-pigeon", "--address=x")
    %w[rest grpc grpc-stream redis redis-stream shm file].each { |t| assert_includes err, t }
  end

  def test_bad_addresses_exit_2
    [%w[rest 0.0.0.0:80], ["redis", "unix:///x/redis.sock"], ["redis-stream", "http://x#p"],
     ["file", "/nonexistent/dir"], ["file", "#{Dir.tmpdir}?wait=sometimes"], %w[shm no-slash],
     ["shm", "/interop-spectrum-missing-#{Process.pid}"]].each do |transport, address|
      [[], ["--echo"]].each do |echo|
        st, = run_peer("--transport=#{transport}", "--address=#{address}", *echo)
        assert_equal 2, st.exitstatus, "#{transport} #{address} #{echo.join}"
      end
    end
  end

  def test_wrong_codec_for_a_json_transport_exits_2
    st, err = run_peer("--transport=rest", "--address=127.0.0.1:0", "--codec=raw")
    assert_equal 2, st.exitstatus
    assert_includes err, "json"
  end
end
