# frozen_string_literal: true

require "minitest/autorun"
require "json"
require "redis"
require_relative "support"
require_relative "../workload"

# The real peer, --transport=redis / redis-stream, against a private
# redis-server (unix socket only, no persistence) started for each test in a
# temp dir and shut down after it.
class TestPeerRedis < Minitest::Test
  include PeerTestSupport
  include CodecVectors
  RAMP_256_HEX = "3fe376dba491b1ac"

  def setup
    skip "redis-server not installed" unless system("command -v redis-server >/dev/null 2>&1")
    @dir = Dir.mktmpdir("ruby-peer-redis-")
    @sock = File.join(@dir, "redis.sock")
    @server = Process.spawn("redis-server", "--port", "0", "--unixsocket", @sock, "--unixsocketperm", "700",
                            "--save", "", "--appendonly", "no", "--dir", @dir,
                            in: File::NULL, out: File.join(@dir, "redis.log"), err: [:child, :out], pgroup: true)
    @redis = wait_until("redis-server to answer PING") do
      r = Redis.new(path: @sock, timeout: TIMEOUT)
      r.ping == "PONG" ? r : nil
    rescue Redis::BaseConnectionError
      nil
    end
    @prefix = "interop:test#{Process.pid}:ruby"
    @reply_to = "#{@prefix}:reply:1"
  end

  def teardown
    @peer&.cleanup
    @redis&.close
    stop_server
    FileUtils.remove_entry(@dir) if @dir && File.directory?(@dir)
  end

  def stop_server
    return unless @server

    begin
      Process.kill("TERM", @server)
    rescue Errno::ESRCH
      nil
    end
    deadline = now + TIMEOUT
    until Process.wait2(@server, Process::WNOHANG)
      if now > deadline
        Process.kill("KILL", -@server)
        Process.wait(@server)
        break
      end
      sleep 0.01
    end
  rescue Errno::ECHILD
    nil
  end

  def start(transport, *flags)
    @transport = transport
    @peer = PeerProcess.new(["--transport=#{transport}", "--address=unix://#{@sock}##{@prefix}", *flags])
    assert_equal "unix://#{@sock}##{@prefix}", @peer.address
  end

  def push(raw)
    if @transport == "redis"
      @redis.lpush("#{@prefix}:requests", raw)
    else
      @redis.xadd("#{@prefix}:stream", { "req" => raw })
    end
  end

  def call(msg)
    push(JSON.generate(msg.merge("reply_to" => @reply_to)))
    reply
  end

  def reply(timeout: TIMEOUT)
    _key, raw = @redis.brpop(@reply_to, timeout: timeout)
    raw && JSON.parse(raw)
  end

  def check_round_trips
    assert_equal({ "id" => 1, "result" => MIN64 }, call("id" => 1, "op" => "add", "x" => MAX64, "y" => 1))
    r = call("id" => 2, "op" => "score", "features" => Workload.ramp_features(256), "model" => "modèle-ü")
    assert_equal [2, RAMP_256_HEX, "fraud"], [r["id"], [r["score"]].pack("G").unpack1("H*"), r["label"]]
  end

  def check_garbage_keeps_serving
    push("not json {")                                              # no reply_to to be read: dropped
    push('{"id":3,"op":"add","x":1,"y":2,"reply_to":"elsewhere:1"}') # reply_to outside PREFIX: dropped
    r = call("id" => 4, "op" => "add", "x" => "a", "y" => 1)         # error reply
    assert_equal 4, r["id"]
    assert_kind_of String, r["error"]
    r = call("id" => 5, "op" => "divide", "x" => 1, "y" => 1)
    assert_equal 5, r["id"]
    assert_kind_of String, r["error"]
    assert_equal({ "id" => 6, "result" => 3 }, call("id" => 6, "op" => "add", "x" => 1, "y" => 2))
    assert_nil reply(timeout: 0.2), "a dropped request was answered"
    assert @peer.alive?
    assert_operator @peer.stderr.lines.size, :>=, 4
    keys = @redis.keys("*")
    assert keys.all? { |k| k.start_with?(@prefix) }, "keys outside the prefix: #{keys}"
  end

  # --echo: each request's bytes, exactly as pushed, on PREFIX:echo; what
  # the row would refuse (not JSON, no reply_to) comes back as well.
  def check_echo
    requests = [JSON.generate("id" => 1, "op" => "add", "x" => MAX64, "y" => 1, "reply_to" => @reply_to),
                JSON.generate("id" => 2, "op" => "score", "features" => Workload.ramp_features(256),
                              "model" => "modèle-ü", "reply_to" => @reply_to),
                "not json {\xFF".b]
    requests.each do |raw|
      push(raw)
      _key, echoed = @redis.brpop("#{@prefix}:echo", timeout: TIMEOUT)
      assert_equal raw.b, echoed&.b
    end
    assert_equal 0, @redis.llen(@reply_to), "echo answered on reply_to"
  end

  def test_list_echo
    start("redis", "--echo")
    check_echo
    assert_equal 0, @redis.llen("#{@prefix}:requests")
    assert @peer.alive?
  end

  def test_stream_echo_acks_and_deletes
    start("redis-stream", "--echo")
    check_echo
    @redis.xadd("#{@prefix}:stream", { "other" => "field" }) # no req: logged, acked, nothing pushed
    push('{"id":3}')
    assert_equal '{"id":3}', @redis.brpop("#{@prefix}:echo", timeout: TIMEOUT)&.last
    assert_includes @peer.stderr, "no req field"
    wait_until("acked and deleted entries") { @redis.xlen("#{@prefix}:stream").zero? }
    assert_equal 0, @redis.xpending("#{@prefix}:stream", "workers")["size"]
    assert_equal 0, @redis.llen("#{@prefix}:echo")
    keys = @redis.keys("*")
    assert keys.all? { |k| k.start_with?(@prefix) }, "keys outside the prefix: #{keys}"
  end

  def test_list_round_trips_and_garbage
    start("redis")
    check_round_trips
    check_garbage_keeps_serving
    assert_equal 0, @redis.llen("#{@prefix}:requests")
  end

  def test_stream_round_trips_garbage_and_cleanup
    start("redis-stream")
    groups = @redis.xinfo(:groups, "#{@prefix}:stream")
    assert_equal ["workers"], groups.map { |g| g["name"] }
    check_round_trips
    check_garbage_keeps_serving
    @redis.xadd("#{@prefix}:stream", { "other" => "field" }) # an entry without req: dropped
    assert_equal({ "id" => 7, "result" => 9 }, call("id" => 7, "op" => "add", "x" => 4, "y" => 5))
    wait_until("acked and deleted entries") { @redis.xlen("#{@prefix}:stream").zero? }
    assert_equal 0, @redis.xpending("#{@prefix}:stream", "workers")["size"]
  end

  # ------------------------------------------------ --codec=raw, protobuf

  def replies_list
    "#{@prefix}:replies"
  end

  # The next value on PREFIX:replies, as bytes (nil after `timeout`).
  def codec_reply(timeout: TIMEOUT)
    _key, raw = @redis.brpop(replies_list, timeout: timeout)
    raw&.b
  end

  # Raw frames or protobuf messages as Redis values (json_transports.md,
  # "Other codecs on Redis and files"): every codecs vector (a batch among
  # them) answered on PREFIX:replies bit for bit as the C++ peer answers it;
  # a bad message with an id gets its codec's error reply, one without is
  # dropped with a line on stderr; serving goes on; nothing on reply_to.
  def check_codec(codec)
    form = codec == "raw" ? "raw" : "protobuf"
    codec_vectors.each do |v|
      push(form_bytes(v, form))
      assert_codec_bytes(v, "reply_#{form}", codec_reply)
    end
    lines = @peer.stderr.lines.size
    if codec == "raw"
      push("JUNK".b + R.encode_add_request(1, 1, 2).byteslice(4..)) # no id: dropped
      push(R.encode_header(R::KIND_ADD_REQUEST, 61, 8) + "\0" * 8)   # wrong payload size: error with its id
      kind, id, payload = split_frames(codec_reply).first
      assert_equal [R::KIND_ERROR, 61], [kind, id]
      assert_includes payload, "16 bytes"
      push(R.encode_add_request(62, 1, 2) + "x")                     # not one whole frame
      assert_equal [R::KIND_ERROR, 62], split_frames(codec_reply).first[0, 2]
      # A JSON frame in a raw value is answered as on a stream.
      push(form_bytes(codec_vectors[0], "json_framed"))
      kind, id, payload = split_frames(codec_reply).first
      assert_equal [R::KIND_JSON_REPLY, 7], [kind, id]
      assert_json_reply(codec_vectors[0], payload)
      push(R.encode_add_request(63, 2, 3))
      assert_equal [[R::KIND_ADD_REPLY, 63, 5.0]], split_frames(codec_reply).map { |k, i, p| [k, i, p.unpack1("q<").to_f] }
    else
      push("\xFF\xFF\xFF".b)                                         # does not decode: dropped
      push(pb::Request.encode(pb::Request.new(score: { id: 61, model: "m" * 1025 }))) # a bound: error with its id
      reply = pb::Reply.decode(codec_reply)
      assert_equal [61, :error], [reply.id, reply.result]
      push(pb::Request.encode(pb::Request.new(batch: { id: 62 })))   # a batch with no items
      reply = pb::Reply.decode(codec_reply)
      assert_equal [62, :error], [reply.id, reply.result]
      push(pb::Request.encode(pb::Request.new(add: { id: 63, x: 2, y: 3 })))
      reply = pb::Reply.decode(codec_reply)
      assert_equal [63, 5], [reply.id, reply.add.result]
    end
    assert_nil codec_reply(timeout: 0.2), "a dropped message was answered"
    assert_operator @peer.stderr.lines.size, :>=, lines + 3
    assert @peer.alive?
    assert_equal 0, @redis.llen(@reply_to)
    keys = @redis.keys("*")
    assert keys.all? { |k| k.start_with?(@prefix) }, "keys outside the prefix: #{keys}"
  end

  # Under --inflight=K the peer pops up to K at once: 50 calls queued, 50
  # replies, in order.
  def check_codec_inflight(codec)
    50.times do |i|
      push(codec == "raw" ? R.encode_add_request(i, i, 1) : pb::Request.encode(pb::Request.new(add: { id: i, x: i, y: 1 })))
    end
    got = Array.new(50) do
      bytes = codec_reply
      if codec == "raw"
        _kind, id, payload = split_frames(bytes).first
        [id, R.parse_add_reply(payload)]
      else
        reply = pb::Reply.decode(bytes)
        [reply.id, reply.add.result]
      end
    end
    assert_equal(Array.new(50) { |i| [i, i + 1] }, got)
  end

  %w[raw protobuf].each do |codec|
    %w[redis redis-stream].each do |transport|
      define_method("test_#{transport.tr('-', '_')}_codec_#{codec}") do
        start(transport, "--codec=#{codec}")
        check_codec(codec)
        if transport == "redis-stream"
          wait_until("acked and deleted entries") { @redis.xlen("#{@prefix}:stream").zero? }
        else
          assert_equal 0, @redis.llen("#{@prefix}:requests")
        end
      end

      define_method("test_#{transport.tr('-', '_')}_codec_#{codec}_inflight") do
        start(transport, "--codec=#{codec}", "--inflight=8")
        check_codec_inflight(codec)
        check_codec(codec)
      end
    end
  end

  # --echo is the same for every codec: the value, unread, on PREFIX:echo.
  def test_codec_echo
    %w[raw protobuf].each do |codec|
      %w[redis redis-stream].each do |transport|
        start(transport, "--codec=#{codec}", "--echo")
        values = codec_vectors.map { |v| form_bytes(v, codec) } + ["\xFF garbage".b]
        values.each do |value|
          push(value)
          _key, echoed = @redis.brpop("#{@prefix}:echo", timeout: TIMEOUT)
          assert_equal value, echoed&.b
        end
        assert_equal 0, @redis.llen(replies_list)
        @peer.cleanup
        @redis.flushall
      end
    end
  end

  def test_stream_group_already_there_is_fine_and_term_exits_0
    @redis.xgroup(:create, "#{@prefix}:stream", "workers", "$", mkstream: true)
    start("redis-stream")
    assert_equal({ "id" => 1, "result" => 3 }, call("id" => 1, "op" => "add", "x" => 1, "y" => 2))
    assert_exits_0_on_term
  end
end
