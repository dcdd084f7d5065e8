# frozen_string_literal: true

require "minitest/autorun"
require_relative "support"
require_relative "../workload"

# The real peer, --transport=grpc / grpc-stream (one server), through a Ruby
# gRPC stub built from the generated code ($INTEROP_GENERATED_DIR/ruby,
# default <repo>/build/generated/ruby). Missing generated code is a failure,
# not a skip: the build makes it and ctest points INTEROP_GENERATED_DIR at it.
class TestPeerGrpc < Minitest::Test
  include PeerTestSupport
  RAMP_256_HEX = "3fe376dba491b1ac"
  GENERATED = File.join(ENV["INTEROP_GENERATED_DIR"].to_s.empty? ? File.expand_path("../../../build/generated", __dir__)
                                                                  : ENV["INTEROP_GENERATED_DIR"], "ruby")

  def setup
    assert File.file?(File.join(GENERATED, "interop_services_pb.rb")),
           "no generated gRPC code in #{GENERATED}: build the project, or set INTEROP_GENERATED_DIR"
    $LOAD_PATH.unshift(GENERATED) unless $LOAD_PATH.include?(GENERATED)
    require "grpc"
    require "interop_services_pb"
    @pb = ::Interop::V1
  end

  def teardown
    @stub&.instance_variable_get(:@ch)&.close rescue nil # rubocop:disable Style/RescueModifier
    @peer&.cleanup
  end

  def start(transport)
    @peer = PeerProcess.new(["--transport=#{transport}", "--address=127.0.0.1:0"])
    assert_match(/\A127\.0\.0\.1:[1-9]\d*\z/, @peer.address)
    @stub = @pb::Interop::Stub.new(@peer.address, :this_channel_is_insecure, timeout: TIMEOUT)
  end

  # --echo: a stub that sends and receives raw message bytes, as the
  # harness's echo client does (identity marshalling on both sides). It
  # takes replies of any size, so a size limit it meets is the server's.
  IDENTITY = ->(bytes) { bytes }

  def start_echo(transport)
    @peer = PeerProcess.new(["--transport=#{transport}", "--address=127.0.0.1:0", "--echo"])
    @stub = GRPC::ClientStub.new(@peer.address, :this_channel_is_insecure, timeout: TIMEOUT,
                                 channel_args: { "grpc.max_receive_message_length" => -1 })
  end

  def unary_raw(method, bytes)
    @stub.request_response("/interop.v1.Interop/#{method}", bytes, IDENTITY, IDENTITY)
  end

  def bits(x)
    [x].pack("G").unpack1("H*")
  end

  def test_unary_add_and_score
    s = start("grpc")
    assert_equal MIN64, s.add(@pb::AddRequest.new(id: 1, x: MAX64, y: 1)).result
    rep = s.add(@pb::AddRequest.new(id: 2, x: MIN64, y: -1))
    assert_equal [2, MAX64], [rep.id, rep.result]
    rep = s.score(@pb::ScoreRequest.new(id: 77, features: Workload.ramp_features(256), model: "modèle-ü"))
    assert_equal [77, RAMP_256_HEX, "fraud"], [rep.id, bits(rep.score), rep.label]
  end

  def test_invalid_arguments_and_still_serving
    s = start("grpc")
    err = assert_raises(GRPC::InvalidArgument) do
      s.score(@pb::ScoreRequest.new(id: 3, features: [1.0], model: "m" * 1025))
    end
    assert_includes err.details, "1024"
    assert_raises(GRPC::InvalidArgument) do
      s.score(@pb::ScoreRequest.new(id: 4, features: Array.new(131_073, 0.0), model: "m"))
    end
    assert_equal 5, s.add(@pb::AddRequest.new(id: 5, x: 2, y: 3)).result
    assert @peer.alive?
  end

  def test_stream_replies_in_order_and_errors_keep_it_open
    s = start("grpc-stream")
    reqs = [
      @pb::Request.new(add: @pb::AddRequest.new(id: 1, x: MAX64, y: 1)),
      @pb::Request.new(score: @pb::ScoreRequest.new(id: 2, features: Workload.ramp_features(256), model: "modèle-ü")),
      @pb::Request.new(score: @pb::ScoreRequest.new(id: 3, features: [], model: "m" * 1025)),
      @pb::Request.new,
      *Array.new(20) { |i| @pb::Request.new(add: @pb::AddRequest.new(id: 100 + i, x: i, y: i)) }
    ]
    replies = s.stream(reqs).to_a
    assert_equal [1, 2, 3, 0, *100...120], replies.map(&:id)
    assert_equal MIN64, replies[0].add.result
    assert_equal [RAMP_256_HEX, "fraud"], [bits(replies[1].score.score), replies[1].score.label]
    assert_equal :error, replies[2].result
    assert_includes replies[2].error, "1024"
    assert_equal :error, replies[3].result
    assert_equal Array.new(20) { |i| 2 * i }, replies[4..].map { |r| r.add.result }
  end

  def score_request(id, n)
    @pb::ScoreRequest.new(id: id, features: Workload.ramp_features(n), model: "modèle-ü")
  end

  def test_echo_unary_returns_the_request_bytes
    start_echo("grpc")
    add = @pb::AddRequest.encode(@pb::AddRequest.new(id: 1, x: MAX64, y: 1))
    score = @pb::ScoreRequest.encode(score_request(77, 256))
    assert_equal add.b, unary_raw("Add", add).b
    assert_equal score.b, unary_raw("Score", score).b
    # Nothing is decoded: bytes that are no protobuf at all come back too,
    # and so does a request that the row would refuse (a 1025-byte model).
    assert_equal "\xFF\xFEnot protobuf".b, unary_raw("Add", "\xFF\xFEnot protobuf".b).b
    too_long = @pb::ScoreRequest.encode(@pb::ScoreRequest.new(id: 3, model: "m" * 1025))
    assert_equal too_long.b, unary_raw("Score", too_long).b
  end

  # The message size limit of the row holds: a message over 8 MiB is refused
  # by gRPC before the handler, and the server goes on.
  def test_echo_keeps_the_message_size_limit
    start_echo("grpc")
    err = assert_raises(GRPC::ResourceExhausted) { unary_raw("Score", "x".b * ((8 << 20) + 1)) }
    assert_includes err.details, (8 << 20).to_s
    big = @pb::ScoreRequest.encode(score_request(4, 131_072)) # the largest valid score request
    assert_equal big.b, unary_raw("Score", big).b
    assert @peer.alive?
  end

  def test_echo_stream_writes_each_request_back_in_order
    start_echo("grpc-stream")
    reqs = [
      @pb::Request.new(add: @pb::AddRequest.new(id: 1, x: MAX64, y: 1)),
      @pb::Request.new(score: score_request(2, 256)),
      @pb::Request.new,
      *Array.new(20) { |i| @pb::Request.new(add: @pb::AddRequest.new(id: 100 + i, x: i, y: i)) }
    ].map { |r| @pb::Request.encode(r).b }
    replies = @stub.bidi_streamer("/interop.v1.Interop/Stream", reqs, IDENTITY, IDENTITY).to_a
    assert_equal reqs, replies.map(&:b)
  end

  # Without the generated code the peer refuses to start, with one line
  # saying where it looked, instead of printing READY.
  def test_missing_generated_code_is_a_loud_error
    Dir.mktmpdir("ruby-peer-test-") do |empty|
      %w[grpc grpc-stream].each do |transport|
        st, err = run_peer_to_exit("--transport=#{transport}", "--address=127.0.0.1:0",
                                   env: { "INTEROP_GENERATED_DIR" => empty })
        assert_equal 1, st.exitstatus, err
        assert_includes err, "generated gRPC code not found in #{File.join(empty, 'ruby')}"
        assert_equal 1, err.lines.size, err
      end
    end
  end

  def test_term_exits_0
    s = start("grpc")
    assert_equal 3, s.add(@pb::AddRequest.new(id: 1, x: 1, y: 2)).result
    assert_exits_0_on_term
  end
end
