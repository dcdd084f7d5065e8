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
