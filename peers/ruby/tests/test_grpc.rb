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
  MAX_GRPC_MESSAGE = 17_825_792
  MAX_BATCH_ITEMS = 100_000
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

  # ------------------------------------------------------------- batches

  def add_item(x, y)
    @pb::Request.new(add: @pb::AddRequest.new(x: x, y: y))
  end

  # Items of every kind, the wrong ones between good ones.
  def mixed_items
    [add_item(MAX64, 1),
     @pb::Request.new(score: score_request(0, 256)),
     @pb::Request.new(score: @pb::ScoreRequest.new(features: [1.0], model: "m" * 1025)),
     @pb::Request.new,
     @pb::Request.new(batch: @pb::BatchRequest.new(id: 9, items: [add_item(1, 2)])),
     @pb::Request.new(score: @pb::ScoreRequest.new(features: Array.new(131_073, 0.0), model: "m")),
     add_item(2, 3)]
  end

  # A BatchReply to mixed_items: item i answers item i, every item's id 0.
  def assert_mixed_reply(reply, id)
    assert_equal id, reply.id
    items = reply.items
    assert_equal %i[add score error error error error add], items.map(&:result)
    assert_equal [0] * 7, items.map(&:id)
    assert_equal [MIN64, 0], [items[0].add.result, items[0].add.id]
    assert_equal [RAMP_256_HEX, "fraud", 0], [bits(items[1].score.score), items[1].score.label, items[1].score.id]
    assert_includes items[2].error, "1024"
    assert_includes items[5].error, "131072"
    assert_equal 5, items[6].add.result
  end

  def test_unary_batch_answers_item_by_item
    s = start("grpc")
    assert_mixed_reply(s.batch(@pb::BatchRequest.new(id: 77, items: mixed_items)), 77)
    # Bit for bit what the unary calls answer.
    features = Workload.ramp_features(1000)
    one = s.score(@pb::ScoreRequest.new(id: 1, features: features, model: "m"))
    rep = s.batch(@pb::BatchRequest.new(id: 1, items: [@pb::Request.new(score: @pb::ScoreRequest.new(
      features: features, model: "m"
    ))]))
    assert_equal [bits(one.score), one.label], [bits(rep.items[0].score.score), rep.items[0].score.label]
    assert_operator @peer.stderr.lines.grep(/batch \(id 77\): 4 of 7 items wrong/).size, :==, 1
  end

  def test_unary_batch_of_the_most_items
    s = start("grpc")
    # Items given as Hashes: protobuf builds them much faster than messages.
    rep = s.batch(@pb::BatchRequest.new(id: 2, items: Array.new(MAX_BATCH_ITEMS) { |i| { add: { x: i, y: -2 * i } } }))
    assert_equal [2, MAX_BATCH_ITEMS], [rep.id, rep.items.size]
    assert_equal Array.new(MAX_BATCH_ITEMS) { |i| -i }, rep.items.map { |r| r.add.result }
  end

  # A wrong shape refuses the whole batch; the server goes on.
  def test_unary_batch_wrong_shape_is_invalid_argument
    s = start("grpc")
    err = assert_raises(GRPC::InvalidArgument) { s.batch(@pb::BatchRequest.new(id: 3)) }
    assert_includes err.details, "this one 0"
    assert_raises(GRPC::InvalidArgument) do
      s.batch(@pb::BatchRequest.new(id: 4, items: Array.new(MAX_BATCH_ITEMS + 1) { { add: { x: 1, y: 1 } } }))
    end
    assert_equal 5, s.add(@pb::AddRequest.new(id: 5, x: 2, y: 3)).result
    assert @peer.alive?
  end

  # Messages of up to MAX_GRPC_MESSAGE are taken: 16 of the largest score
  # items (past the old 8 MiB limit) are answered; 17 are refused by gRPC.
  def test_batch_message_size_limit
    s = start("grpc")
    item = @pb::Request.new(score: @pb::ScoreRequest.new(features: Workload.ramp_features(131_072), model: "m"))
    req = @pb::BatchRequest.new(id: 6, items: Array.new(16, item))
    assert_operator @pb::BatchRequest.encode(req).bytesize, :<=, MAX_GRPC_MESSAGE
    rep = s.batch(req)
    want = Workload.score(Workload.ramp_features(131_072))
    assert_equal [16] + [want] * 16, [rep.items.size] + rep.items.map { |r| [r.score.score, r.score.label] }
    req = @pb::BatchRequest.new(id: 7, items: Array.new(17, item))
    assert_operator @pb::BatchRequest.encode(req).bytesize, :>, MAX_GRPC_MESSAGE
    assert_raises(GRPC::ResourceExhausted) { s.batch(req) }
    assert_equal 5, s.add(@pb::AddRequest.new(id: 8, x: 2, y: 3)).result
  end

  # On the stream a batch is one Request, its Reply carries the batch's id;
  # a wrong shape gets an error Reply with that id and the stream goes on.
  def test_stream_batches_in_order
    s = start("grpc-stream")
    reqs = [
      @pb::Request.new(add: @pb::AddRequest.new(id: 1, x: 2, y: 3)),
      @pb::Request.new(batch: @pb::BatchRequest.new(id: 2, items: mixed_items)),
      @pb::Request.new(batch: @pb::BatchRequest.new(id: 3)),
      @pb::Request.new(batch: @pb::BatchRequest.new(id: 4, items: Array.new(1000) { |i| add_item(i, 1) })),
      @pb::Request.new(add: @pb::AddRequest.new(id: 5, x: 4, y: 5))
    ]
    replies = s.stream(reqs).to_a
    assert_equal [1, 2, 3, 4, 5], replies.map(&:id)
    assert_equal %i[add batch error batch add], replies.map(&:result)
    assert_mixed_reply(replies[1].batch, 2)
    assert_includes replies[2].error, "this one 0"
    assert_equal (1..1000).to_a, replies[3].batch.items.map { |r| r.add.result }
    assert_equal 9, replies[4].add.result
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

  # The message size limit of the row holds: a message over
  # MAX_GRPC_MESSAGE is refused by gRPC before the handler, and the server
  # goes on; one of exactly that size comes back.
  def test_echo_keeps_the_message_size_limit
    start_echo("grpc")
    err = assert_raises(GRPC::ResourceExhausted) { unary_raw("Batch", "x".b * (MAX_GRPC_MESSAGE + 1)) }
    assert_includes err.details, MAX_GRPC_MESSAGE.to_s
    big = @pb::ScoreRequest.encode(score_request(4, 131_072)) # the largest valid score request
    assert_equal big.b, unary_raw("Score", big).b
    assert_equal MAX_GRPC_MESSAGE, unary_raw("Batch", "y".b * MAX_GRPC_MESSAGE).bytesize
    assert @peer.alive?
  end

  # Batch, like Add and Score, returns the request's bytes: a batch of the
  # largest score items (over the old 8 MiB limit) and one the row would
  # refuse (no items).
  def test_echo_batch_returns_the_request_bytes
    start_echo("grpc")
    big = @pb::BatchRequest.encode(@pb::BatchRequest.new(id: 5, items: Array.new(9) do |i|
      @pb::Request.new(score: score_request(0, 131_072 - i))
    end))
    assert_operator big.bytesize, :>, 8 << 20
    assert_equal big.b, unary_raw("Batch", big).b
    empty = @pb::BatchRequest.encode(@pb::BatchRequest.new(id: 6))
    assert_equal empty.b, unary_raw("Batch", empty).b
  end

  def test_echo_stream_writes_each_request_back_in_order
    start_echo("grpc-stream")
    reqs = [
      @pb::Request.new(add: @pb::AddRequest.new(id: 1, x: MAX64, y: 1)),
      @pb::Request.new(score: score_request(2, 256)),
      @pb::Request.new(batch: @pb::BatchRequest.new(id: 3, items: [@pb::Request.new(add: @pb::AddRequest.new(x: 1))])),
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
