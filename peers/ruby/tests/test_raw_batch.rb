# frozen_string_literal: true

require "json"
require "minitest/autorun"
require_relative "../raw_frame"
require_relative "../workload"

# Batch frames (schemas/raw_frame.md, Batches) against the C++ reference's
# vectors in schemas/test_vectors.json (raw_batch), bit for bit.
class TestRawBatch < Minitest::Test
  R = RawFrame
  VECTORS = JSON.parse(File.read(File.join(__dir__, "../../../schemas/test_vectors.json")))

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

  def assert_bytes(vector, which, data)
    if vector.key?("#{which}_hex")
      assert_equal vector["#{which}_hex"], data.unpack1("H*"), vector["name"]
    else
      assert_equal [vector["#{which}_bytes"], vector["#{which}_fnv1a64"]], [data.bytesize, fnv1a64(data)],
                   vector["name"]
    end
  end

  def request_frame(vector)
    R.encode_batch(R::KIND_BATCH_REQUEST, vector["id"], items_of(vector).map { |i| request_item(i) })
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

  # Until a transport carries batches, every reader keeps MAX_PAYLOAD.
  def test_readers_keep_max_payload_for_batch_frames_too
    assert_equal :ok, R.decode_header(R.encode_header(R::KIND_BATCH_REQUEST, 1, R::MAX_PAYLOAD))[0]
    assert_equal :too_long, R.decode_header(R.encode_header(R::KIND_BATCH_REQUEST, 1, R::MAX_PAYLOAD + 1))[0]
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
