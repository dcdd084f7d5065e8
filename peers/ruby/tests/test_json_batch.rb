# frozen_string_literal: true

require "minitest/autorun"
require "json"
require_relative "../json_message"

# JSON batches (schemas/json_transports.md, Batches) against the json_batch
# vectors in schemas/test_vectors.json, which hold the C++ reference's answers.
class TestJsonBatch < Minitest::Test
  J = JsonMessage
  VECTORS = JSON.parse(File.read(File.join(__dir__, "../../../schemas/test_vectors.json")))["json_batch"]

  def items_of(reply)
    reply["items"].map do |item|
      if item.key?("error")
        { "error" => true }
      elsif item.key?("result")
        { "add" => item["result"] }
      else
        { "score_hex" => [item["score"]].pack("G").unpack1("H*"), "label" => item["label"] }
      end
    end
  end

  def test_every_vector_item_by_item
    assert_operator VECTORS.size, :>=, 6
    VECTORS.reject { |v| v.key?("generated") }.each do |v|
      good, body = J.respond(v["request_json"])
      reply = JSON.parse(body)
      assert_equal JSON.parse(v["request_json"])["id"], reply["id"], v["name"]
      if v["refused"]
        refute good, v["name"]
        assert_kind_of String, reply["error"], v["name"]
        refute reply.key?("items"), v["name"]
      else
        assert good, v["name"]
        assert_equal v["reply_items"], items_of(reply), v["name"]
      end
    end
  end

  def test_a_thousand_items_with_a_wrong_one
    v = VECTORS.find { |x| x.key?("generated") }
    g = v["generated"]
    items = (0...g["count"]).map { |i| { "op" => "add", "x" => i * 1_000_003, "y" => 7 - i } }
    items[g["wrong"]].delete("y")
    text = JSON.generate({ "id" => g["id"], "op" => "batch", "items" => items })
    assert_equal v["request_json_bytes"], text.bytesize
    good, body = J.respond(text)
    assert good, body
    replies = JSON.parse(body)["items"]
    assert_equal g["count"], replies.size
    assert replies[g["wrong"]].key?("error")
    bytes = replies.each_with_index.reject { |_, i| i == g["wrong"] }.map { |r, _| r["result"] }.pack("q<*")
    h = 0xcbf29ce484222325
    bytes.each_byte { |b| h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF }
    assert_equal v["results_fnv1a64"], format("%016x", h)
  end

  def test_a_rest_path_means_one_call
    good, = J.respond('{"id":1,"op":"batch","items":[]}', "add")
    refute good
  end

  # REST's POST /batch: the body's op must say "batch" too.
  def test_the_batch_path_means_a_batch
    good, body = J.respond('{"id":4,"op":"batch","items":[{"op":"add","x":2,"y":3}]}', "batch")
    assert good, body
    assert_equal({ "id" => 4, "items" => [{ "result" => 5 }] }, JSON.parse(body))
    ['{"id":4,"op":"add","x":2,"y":3}', '{"id":4,"items":[{"op":"add","x":2,"y":3}]}'].each do |text|
      good, body = J.respond(text, "batch")
      refute good, text
      assert_equal 4, JSON.parse(body)["id"]
    end
  end
end
