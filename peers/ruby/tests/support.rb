# frozen_string_literal: true

# What every test that runs the real peer shares: the peer as a subprocess in
# its own process group, READY with a timeout, and a cleanup that always
# reaps it and removes its temp dir.

require "rbconfig"
require "io/wait"
require "tmpdir"
require "fileutils"
require "json"
require_relative "../raw_frame"
require_relative "../workload"

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

    # `env`: variables to set (or, with nil, unset) for the peer.
    def initialize(args, pipe: false, env: {})
      @tmpdir = Dir.mktmpdir("ruby-peer-test-")
      @stderr_path = File.join(@tmpdir, "stderr.txt")
      out_r, out_w = IO.pipe
      in_r, in_w = pipe ? IO.pipe : [File::NULL, nil]
      args = args.map { |a| a.gsub("%TMP%", @tmpdir) }
      @pid = Process.spawn(env, RbConfig.ruby, PEER, *args,
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

# The raw_batch vectors of schemas/test_vectors.json (raw_frame.md,
# Batches), for the tests that send batch frames (codec, streams, shm).
module RawBatchVectors
  R = RawFrame
  VECTORS = JSON.parse(File.read(File.expand_path("../../../schemas/test_vectors.json", __dir__)))

  def vectors
    v = VECTORS.fetch("raw_batch")
    assert_equal 4, v.size
    v
  end

  def fnv1a64(bytes)
    h = 0xcbf29ce484222325
    bytes.each_byte { |b| h = ((h ^ b) * 0x100000001b3) & 0xFFFF_FFFF_FFFF_FFFF }
    format("%016x", h)
  end

  # A vector's items as written: spelled out, or generated.
  def items_of(vector)
    return vector["items"] if vector.key?("items")

    wrong = vector["generated"]["wrong"]
    Array.new(vector["generated"]["count"]) do |i|
      i == wrong ? { "kind" => 1, "payload_hex" => "00" * 8 } : { "add" => [i * 1_000_003, 7 - i] }
    end
  end

  def request_item(item)
    if item.key?("add")
      [R::KIND_ADD_REQUEST, R.payload_of(R.encode_add_request(0, *item["add"]))]
    elsif item.key?("score")
      f = item["score"]["features"]
      features = f.is_a?(Hash) ? Workload.ramp_features(f["ramp"]) : f.map(&:to_f)
      [R::KIND_SCORE_REQUEST, R.payload_of(R.encode_score_request(0, features, item["score"]["model"]))]
    else
      [item["kind"], [item["payload_hex"]].pack("H*")]
    end
  end

  def request_frame(vector)
    R.encode_batch(R::KIND_BATCH_REQUEST, vector["id"], items_of(vector).map { |i| request_item(i) })
  end

  # `data` is the vector's request or reply frame, bit for bit (spelled out
  # in hex, or given by length and FNV-1a 64).
  def assert_bytes(vector, which, data)
    if vector.key?("#{which}_hex")
      assert_equal vector["#{which}_hex"], data.unpack1("H*"), vector["name"]
    else
      assert_equal [vector["#{which}_bytes"], vector["#{which}_fnv1a64"]], [data.bytesize, fnv1a64(data)],
                   vector["name"]
    end
  end

  # A batch reply's items compared with a vector's reply_items: kinds, add
  # results, score bits and labels (an error item's message is each
  # language's own, so only its kind and its bound).
  def assert_items(vector, reply_payload)
    got = R.parse_batch(reply_payload)
    unless vector.key?("reply_items")
      wrong = vector["generated"]["wrong"]
      assert_equal [R::KIND_ERROR], got.select.with_index { |_, i| i == wrong }.map(&:first)
      adds = got.each_index.reject { |i| i == wrong }
      assert_equal(adds.map { |i| Workload.add(i * 1_000_003, 7 - i) }, adds.map { |i| R.parse_add_reply(got[i][1]) })
      return
    end

    assert_equal vector["reply_items"].size, got.size, vector["name"]
    vector["reply_items"].zip(got).each do |want, (kind, payload)|
      if want.key?("add")
        assert_equal [R::KIND_ADD_REPLY, want["add"]], [kind, R.parse_add_reply(payload)], vector["name"]
      elsif want.key?("score_hex")
        score, label = R.parse_score_reply(payload)
        assert_equal [R::KIND_SCORE_REPLY, want["score_hex"], want["label"]],
                     [kind, [score].pack("G").unpack1("H*"), label], vector["name"]
      else
        assert_equal R::KIND_ERROR, kind, vector["name"]
        assert_operator payload.bytesize, :<=, R::MAX_ERROR_BYTES
        assert R.valid_utf8?(payload)
      end
    end
  end

  # A reply [kind, id, payload] to the vector's request: a batch reply with
  # its id, its items as the vector says, bit for bit.
  def assert_vector_reply(vector, reply)
    kind, id, payload = reply
    assert_equal [R::KIND_BATCH_REPLY, vector["id"]], [kind, id], vector["name"]
    assert_items(vector, payload)
    assert_bytes(vector, "reply", R.encode_header(kind, id, payload.bytesize) + payload)
  end

  # A batch frame longer than MAX_PAYLOAD: the largest score item (131,072
  # features, a 1,024-byte model) then `adds` adds (i + i).
  def big_batch(id, adds: 1000)
    items = [[R::KIND_SCORE_REQUEST,
              R.payload_of(R.encode_score_request(0, Workload.ramp_features(R::MAX_FEATURES), "m" * 1024))]]
    items += Array.new(adds) { |i| [R::KIND_ADD_REQUEST, [i, i].pack("q<q<")] }
    R.encode_batch(R::KIND_BATCH_REQUEST, id, items)
  end

  # The reply to big_batch: its score item, then the adds.
  def assert_big_batch_reply(reply, id, adds: 1000)
    kind, rid, payload = reply
    assert_equal [R::KIND_BATCH_REPLY, id], [kind, rid]
    got = R.parse_batch(payload)
    assert_equal [R::KIND_SCORE_REPLY] + [R::KIND_ADD_REPLY] * adds, got.map(&:first)
    score, = R.parse_score_reply(got[0][1])
    assert_equal Workload.score(Workload.ramp_features(R::MAX_FEATURES))[0], score
    assert_equal (0...adds).map { |i| 2 * i }, got[1..].map { |_, p| R.parse_add_reply(p) }
  end
end

# The codecs vectors of schemas/test_vectors.json (raw_frame.md "Other codecs
# in the frame", json_transports.md "Other codecs on Redis and files"): one
# message in raw, JSON and protobuf, alone and in the frame header, with the
# C++ peer's answer to each. Long vectors give bytes by length and FNV-1a 64:
# their requests are made here, and checked against those.
module CodecVectors
  include RawBatchVectors
  R = RawFrame
  CODEC_VECTORS = RawBatchVectors::VECTORS.fetch("codecs")

  # The generated messages (ProtobufMessage), loaded once. Missing generated
  # code is a failure, not a skip: the build makes it (as test_grpc.rb).
  def pb
    require_relative "../protobuf_message"
    ProtobufMessage.load
  end

  def codec_vectors
    assert_equal 8, CODEC_VECTORS.size
    CODEC_VECTORS
  end

  def features_of(spec)
    spec.is_a?(Hash) ? Workload.ramp_features(spec["ramp"]) : spec.map(&:to_f)
  end

  # The vector's request as [op, values]: [:add, [x, y]], [:score,
  # [features, model]] or [:batch, [[op, values], ...]].
  def call_of(request)
    if request.key?("add") then [:add, request["add"]]
    elsif request.key?("score") then [:score, [features_of(request["score"]["features"]), request["score"]["model"]]]
    else [:batch, request["batch"].map { |item| call_of(item) }]
    end
  end

  # The request in each form, made here: "raw", "json", "protobuf",
  # "json_framed", "protobuf_framed".
  def make_form(vector, form)
    id = vector["request"]["id"]
    op, values = call_of(vector["request"])
    case form
    when "raw"
      case op
      when :add then R.encode_add_request(id, *values)
      when :score then R.encode_score_request(id, *values)
      else
        R.encode_batch(R::KIND_BATCH_REQUEST, id, values.map do |o, v|
          frame = o == :add ? R.encode_add_request(0, *v) : R.encode_score_request(0, *v)
          [frame.getbyte(5), R.payload_of(frame)]
        end)
      end
    when "json" then JSON.generate(json_request(id, op, values))
    when "protobuf" then pb::Request.encode(pb::Request.new(pb_request(id, op, values)))
    when "json_framed" then R.encode_frame(R::KIND_JSON_REQUEST, id, make_form(vector, "json"))
    when "protobuf_framed" then R.encode_frame(R::KIND_PROTOBUF_REQUEST, id, make_form(vector, "protobuf"))
    end
  end

  def json_request(id, op, values)
    msg = id.nil? ? {} : { "id" => id }
    msg["op"] = op.to_s
    case op
    when :add then msg.merge!("x" => values[0], "y" => values[1])
    when :score then msg.merge!("features" => values[0], "model" => values[1])
    else msg["items"] = values.map { |o, v| json_request(nil, o, v) }
    end
    msg
  end

  def pb_request(id, op, values)
    case op
    when :add then { add: { id: id || 0, x: values[0], y: values[1] } }
    when :score then { score: { id: id || 0, features: values[0], model: values[1] } }
    else { batch: { id: id, items: values.map { |o, v| pb_request(nil, o, v) } } }
    end
  end

  # The request's bytes in `form`, as the vector gives them: spelled out
  # (hex, or JSON text), else made here and checked against the vector's
  # length and FNV-1a 64 (raw and protobuf encode bit for bit; JSON text may
  # differ, so a long JSON request is only made, not compared).
  def form_bytes(vector, form)
    return [vector["#{form}_hex"]].pack("H*") if vector.key?("#{form}_hex")
    return vector["json"].b if form == "json" && vector.key?("json")

    made = make_form(vector, form).b
    if vector.key?("#{form}_bytes") && !form.start_with?("json")
      assert_equal [vector["#{form}_bytes"], vector["#{form}_fnv1a64"]], [made.bytesize, fnv1a64(made)],
                   "#{vector['name']}: #{form}"
    end
    made
  end

  # `data` equals the vector's `which` (e.g. "reply_protobuf"), bit for bit.
  def assert_codec_bytes(vector, which, data)
    if vector.key?("#{which}_hex")
      assert_equal vector["#{which}_hex"], data.unpack1("H*"), "#{vector['name']}: #{which}"
    else
      assert_equal [vector["#{which}_bytes"], vector["#{which}_fnv1a64"]], [data.bytesize, fnv1a64(data)],
                   "#{vector['name']}: #{which}"
    end
  end

  def bits(x)
    [x].pack("G").unpack1("H*")
  end

  # A JSON reply body decodes to the vector's reply (or reply_items) and
  # id, score bits exact.
  def assert_json_reply(vector, body)
    got = JSON.parse(body)
    name = vector["name"]
    assert_equal vector["request"]["id"], got["id"], name
    if vector.key?("reply_items")
      items = got["items"]
      assert_equal vector["reply_items"].size, items&.size, name
      vector["reply_items"].zip(items).each { |want, item| assert_json_value(want, item, name) }
    else
      assert_json_value(vector["reply"], got, name)
    end
  end

  def assert_json_value(want, got, name)
    if want.key?("add")
      assert_equal({ "result" => want["add"] }, got.reject { |k, _| k == "id" }, name)
    else
      assert_equal [want["score_hex"], want["label"]], [bits(got["score"]), got["label"]], name
    end
  end

  # The frames in `bytes`, one after another, as [kind, id, payload].
  def split_frames(bytes)
    list = []
    pos = 0
    while pos < bytes.bytesize
      status, kind, id, len = R.decode_header(bytes.byteslice(pos, R::HEADER_SIZE))
      assert_equal :ok, status
      list << [kind, id, bytes.byteslice(pos + R::HEADER_SIZE, len)]
      pos += R::HEADER_SIZE + len
    end
    list
  end
end
