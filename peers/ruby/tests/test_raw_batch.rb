# frozen_string_literal: true

require "json"
require "stringio"
require "minitest/autorun"
require_relative "support"
require_relative "../raw_frame"
require_relative "../workload"

# Batch frames (schemas/raw_frame.md, Batches) against the C++ reference's
# vectors in schemas/test_vectors.json (raw_batch), bit for bit.
class TestRawBatch < Minitest::Test
  include RawBatchVectors
  R = RawFrame
  # What a peer computes for one request item.
  def answer_item(kind, payload)
    case kind
    when R::KIND_ADD_REQUEST
      [R::KIND_ADD_REPLY, R.payload_of(R.encode_add_reply(0, Workload.add(*R.parse_add_request(payload))))]
    when R::KIND_SCORE_REQUEST
      score, label = Workload.score(*R.parse_score_request(payload))
      [R::KIND_SCORE_REPLY, R.payload_of(R.encode_score_reply(0, score, label))]
    else
      raise R::FrameError, "unknown kind"
    end
  rescue R::FrameError => e
    [R::KIND_ERROR, R.payload_of(R.encode_error(0, e.message))]
  end

  def test_requests_encode_bit_for_bit
    vectors.each { |v| assert_bytes(v, "request", request_frame(v)) }
  end

  def test_answers_match_item_by_item_and_encode_bit_for_bit
    vectors.each do |v|
      frame = request_frame(v)
      status, kind, id, len = R.decode_header(frame.byteslice(0, R::HEADER_SIZE))
      assert_equal [:ok, R::KIND_BATCH_REQUEST, v["id"], frame.bytesize - 24], [status, kind, id, len]
      answers = R.parse_batch(R.payload_of(frame)).map { |k, p| answer_item(k, p) }
      assert_bytes(v, "reply", R.encode_batch(R::KIND_BATCH_REPLY, v["id"], answers))
      wrong = answers.each_index.select { |i| answers[i][0] == R::KIND_ERROR }
      # Only the wrong items, not their batch.
      unless v.key?("reply_items")
        assert_equal [v["generated"]["wrong"]], wrong, v["name"]
        next
      end

      assert_equal v["reply_items"].each_index.select { |i| v["reply_items"][i].key?("error") }, wrong, v["name"]
      answers.zip(v["reply_items"]).each do |(k, p), want|
        if want.key?("add")
          assert_equal [R::KIND_ADD_REPLY, want["add"]], [k, R.parse_add_reply(p)]
        elsif want.key?("score_hex")
          score, label = R.parse_score_reply(p)
          assert_equal [want["score_hex"], want["label"]], [[score].pack("G").unpack1("H*"), label]
        end
      end
    end
  end

  # A reader bounds payload_len by the header's kind: MAX_BATCH_PAYLOAD for
  # batch frames (request and reply), MAX_PAYLOAD for every other kind.
  def test_readers_bound_payload_len_by_kind
    [R::KIND_BATCH_REQUEST, R::KIND_BATCH_REPLY].each do |kind|
      assert_equal :ok, R.decode_header(R.encode_header(kind, 1, R::MAX_BATCH_PAYLOAD))[0]
      assert_equal :too_long, R.decode_header(R.encode_header(kind, 1, R::MAX_BATCH_PAYLOAD + 1))[0]
    end
    [R::KIND_ADD_REQUEST, R::KIND_SCORE_REQUEST, R::KIND_SCORE_REPLY, R::KIND_ERROR, 0x11, 0x91].each do |kind|
      assert_equal :ok, R.decode_header(R.encode_header(kind, 1, R::MAX_PAYLOAD))[0]
      assert_equal :too_long, R.decode_header(R.encode_header(kind, 1, R::MAX_PAYLOAD + 1))[0]
    end
  end

  # --------------------------------------------------- the peer's answers

  # [kind, id, payload] of each frame in `bytes`, one after another.
  def frames(bytes)
    list = []
    pos = 0
    while pos < bytes.bytesize
      _status, kind, id, len = R.decode_header(bytes.byteslice(pos, R::HEADER_SIZE))
      list << [kind, id, bytes.byteslice(pos + R::HEADER_SIZE, len)]
      pos += R::HEADER_SIZE + len
    end
    list
  end

  # RawFrame.answer_batch, what every raw transport answers a batch with:
  # item by item as the vectors say, and bit for bit, since the Ruby
  # peer's error messages are the ones the vectors' replies were made from.
  def test_answer_batch_gives_each_vectors_reply
    vectors.each do |v|
      log = StringIO.new
      reply = R.answer_batch(v["id"], R.payload_of(request_frame(v)), log)
      kind, id, payload = frames(reply).first
      assert_equal [R::KIND_BATCH_REPLY, v["id"], reply.bytesize], [kind, id, R::HEADER_SIZE + payload.bytesize]
      assert_items(v, payload)
      assert_bytes(v, "reply", reply)
      # One log line for a batch with wrong items, none for a good one.
      assert_equal(v["name"] == "one add" ? 0 : 1, log.string.lines.size, v["name"])
    end
  end

  # Items wrong in themselves, each in its place between good ones; the
  # messages are the single calls' own.
  def test_items_wrong_in_themselves_get_error_items
    bad_model = "\xC3\x28".b
    items = [
      [R::KIND_ADD_REQUEST, [1, 2].pack("q<q<")],
      [0x07, "abc".b],                                                  # unknown kind
      [R::KIND_ADD_REQUEST, "\0".b * 24],                               # wrong size
      [R::KIND_SCORE_REQUEST, [0, bad_model.bytesize].pack("L<L<") + bad_model], # not UTF-8
      [R::KIND_SCORE_REQUEST, [131_073, 0].pack("L<L<")],               # n over the bound
      [R::KIND_SCORE_REQUEST, [0, 1025].pack("L<L<") + "m" * 1025],     # model over the bound
      [R::KIND_SCORE_REQUEST, [2, 0].pack("L<L<") + [0.5].pack("E")],   # n inconsistent
      [R::KIND_BATCH_REQUEST, [0, 0].pack("L<L<")],                     # no nesting
      [R::KIND_ADD_REPLY, [5].pack("q<")],                              # a reply is no call
      [R::KIND_SCORE_REQUEST, R.payload_of(R.encode_score_request(0, [0.4, 1.2], "modèle-ü"))]
    ]
    reply = R.answer_batch(3, R.payload_of(R.encode_batch(R::KIND_BATCH_REQUEST, 3, items)), StringIO.new)
    kind, id, payload = frames(reply).first
    assert_equal [R::KIND_BATCH_REPLY, 3], [kind, id]
    got = R.parse_batch(payload)
    assert_equal [R::KIND_ADD_REPLY] + [R::KIND_ERROR] * 8 + [R::KIND_SCORE_REPLY], got.map(&:first)
    assert_equal 3, R.parse_add_reply(got[0][1])
    assert_equal "3fd27fcda8478fa2", [R.parse_score_reply(got[9][1])[0]].pack("G").unpack1("H*")
    items[1..8].zip(got[1..8]).each do |(k, p), (_, message)|
      single = R.answer_call(k, 0, p)
      flunk "item kind #{k} answered as a single call: #{single.unpack1('H*')}"
    rescue R::FrameError => e
      assert_equal e.message, message.force_encoding(Encoding::UTF_8)
    end
    assert_includes got[1][1], "unknown kind 0x07"
  end

  def test_a_wrong_shape_gets_one_error_frame_with_the_id
    log = StringIO.new
    reply = R.answer_batch(44, [0, 0].pack("L<L<"), log)
    kind, id, payload = frames(reply).first
    assert_equal [R::KIND_ERROR, 44], [kind, id]
    assert_includes payload, "batch count 0"
    assert_equal 1, log.string.lines.size
  end

  # ------------------------------------------ the stream loop, in-process

  def serve(bytes, echo: false)
    out = StringIO.new(String.new(encoding: Encoding::BINARY))
    log = StringIO.new
    status = R.serve(StringIO.new(bytes.b), out, echo: echo, log: log)
    [status, out.string, log.string]
  end

  # Every vector's request, a wrong shape between them, and a single call
  # after: each answered in order, the stream goes on.
  def test_serve_answers_batches_in_order
    input = vectors.map { |v| request_frame(v) }.join +
            R.encode_header(R::KIND_BATCH_REQUEST, 99, 8) + [R::MAX_BATCH_ITEMS + 1, 0].pack("L<L<") +
            R.encode_add_request(100, 2, 3)
    status, out, = serve(input)
    assert_equal :eof, status
    got = frames(out)
    assert_equal vectors.map { |v| [R::KIND_BATCH_REPLY, v["id"]] } + [[R::KIND_ERROR, 99], [R::KIND_ADD_REPLY, 100]],
                 got.map { |f| f[0, 2] }
    vectors.each_with_index { |v, i| assert_vector_reply(v, got[i]) }
    assert_equal 5, R.parse_add_reply(got.last[2])
  end

  # A batch frame longer than MAX_PAYLOAD is read and answered.
  def test_serve_reads_batches_over_max_payload
    frame = big_batch(5)
    assert_operator frame.bytesize - R::HEADER_SIZE, :>, R::MAX_PAYLOAD
    status, out, log = serve(frame)
    assert_equal [:eof, ""], [status, log]
    assert_equal 1, frames(out).size
    assert_big_batch_reply(frames(out).first, 5)
  end

  # Over MAX_BATCH_PAYLOAD, a batch is refused unread and the stream
  # closed; any other kind keeps the MAX_PAYLOAD bound, a batch reply sent
  # as a request is read (its bound is the batch one) and is an unknown kind.
  def test_serve_bounds_payload_len_by_kind
    [false, true].each do |echo|
      status, out, log = serve(R.encode_header(R::KIND_BATCH_REQUEST, 6, R::MAX_BATCH_PAYLOAD + 1), echo: echo)
      assert_equal :too_long, status
      assert_equal [[R::KIND_ERROR, 6]], frames(out).map { |f| f[0, 2] }
      assert_includes frames(out)[0][2], R::MAX_BATCH_PAYLOAD.to_s
      assert_equal 1, log.lines.size
      status, out, = serve(R.encode_header(R::KIND_ADD_REQUEST, 7, R::MAX_PAYLOAD + 1) + "\0" * 16, echo: echo)
      assert_equal [:too_long, [[R::KIND_ERROR, 7]]], [status, frames(out).map { |f| f[0, 2] }]
    end
    reply_kind = R.encode_header(R::KIND_BATCH_REPLY, 8, R::MAX_PAYLOAD + 8) + "\0" * (R::MAX_PAYLOAD + 8)
    status, out, = serve(reply_kind + R.encode_add_request(9, 1, 1))
    assert_equal :eof, status
    got = frames(out)
    assert_equal [[R::KIND_ERROR, 8], [R::KIND_ADD_REPLY, 9]], got.map { |f| f[0, 2] }
    assert_includes got[0][2], "unknown kind 0x90"
  end

  # --echo: a batch frame, over MAX_PAYLOAD or not, comes back unchanged.
  def test_echo_returns_batch_frames_unchanged
    input = big_batch(1) + request_frame(vectors[1]) + R.encode_add_request(2, 1, 2)
    status, out, = serve(input, echo: true)
    assert_equal :eof, status
    assert_equal input, out
  end

  def test_bad_shapes_refuse_the_whole_batch
    good = R.payload_of(R.encode_batch(R::KIND_BATCH_REQUEST, 1, [request_item({ "add" => [1, 2] })]))
    {
      "shorter than 8" => good.byteslice(0, 4),
      "count 0" => [0, 0].pack("L<L<"),
      "count over the bound" => [R::MAX_BATCH_ITEMS + 1, 0].pack("L<L<") + good.byteslice(8..),
      "item overruns" => good.byteslice(0, good.bytesize - 1),
      "count says two" => [2, 0].pack("L<L<") + good.byteslice(8..),
      "bytes left over" => good + ("\0".b * 8)
    }.each do |what, payload|
      assert_raises(R::FrameError, what) { R.parse_batch(payload) }
    end
    assert_equal 1, R.parse_batch(good).size
  end
end
