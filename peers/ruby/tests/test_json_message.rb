# frozen_string_literal: true

require "minitest/autorun"
require "json"
require_relative "../json_message"

# The JSON codec of the rest, redis and file tiers, without a transport.
class TestJsonMessage < Minitest::Test
  J = JsonMessage
  MIN64 = -(1 << 63)
  MAX64 = (1 << 63) - 1

  def ok(body, op = nil)
    good, reply = J.respond(body, op)
    assert good, reply
    JSON.parse(reply)
  end

  def bad(body, op = nil)
    good, reply = J.respond(body, op)
    refute good, reply
    msg = JSON.parse(reply)
    assert_kind_of String, msg["error"]
    msg
  end

  def test_add_and_score
    assert_equal({ "id" => 7, "result" => MIN64 }, ok(%({"id":7,"op":"add","x":#{MAX64},"y":1})))
    assert_equal({ "id" => 8, "result" => 3 }, ok('{"id":8,"x":1,"y":2}', "add"))
    r = ok('{"id":9,"op":"score","features":[0.4,1.2],"model":"fraud-v3"}')
    assert_equal [9, "legit"], [r["id"], r["label"]]
    assert_equal Workload.score([0.4, 1.2])[0], r["score"] # shortest round trip: the same bits
    assert_equal "0000000000000000", [ok('{"id":1,"features":[4000],"model":""}', "score")["score"]].pack("G").unpack1("H*")
  end

  def test_bad_requests
    assert_nil bad("{")["id"]
    assert_nil bad("[1]")["id"]
    assert_nil bad('"x"')["id"]
    assert_nil bad("NaN")["id"]
    assert_equal 1, bad('{"id":1,"op":"mul","x":1,"y":2}')["id"]
    assert_equal 1, bad('{"id":1,"op":"add","x":1}')["id"]
    assert_equal 1, bad('{"id":1,"x":"a","y":2}', "add")["id"]
    assert_equal 1, bad(%({"id":1,"x":#{MAX64 + 1},"y":2}), "add")["id"]
    assert_equal 1, bad(%({"id":1,"x":#{MIN64 - 1},"y":2}), "add")["id"]
    assert_equal 1, bad('{"id":1,"x":1.0,"y":2}', "add")["id"]
    assert_nil bad('{"id":-1,"x":1,"y":2}', "add")["id"]
    assert_nil bad(%({"id":#{1 << 64},"x":1,"y":2}), "add")["id"]
    assert_equal 1, bad('{"id":1,"op":"score","x":1,"y":2}', "add")["id"]
    assert_equal 1, bad('{"id":1,"features":"abc","model":"m"}', "score")["id"]
    [%("a"), "null", "true", "[1]", "{}"].each do |item|
      assert_equal 1, bad(%({"id":1,"features":[1,#{item}],"model":"m"}), "score")["id"], item
    end
    assert_equal 1, bad(%({"id":1,"features":[#{(['1'] * 131_073).join(',')}],"model":"m"}), "score")["id"]
    assert_equal 1, bad(%({"id":1,"features":[],"model":"#{'é' * 513}"}), "score")["id"]
    assert_equal 1, bad(%({"id":1,"features":[],"model":"\xC3\x28"}).b, "score")["id"]
    assert_equal 1, bad('{"id":1,"features":[1e400,-1e400],"model":"m"}', "score")["id"] # NaN score
    assert_nil bad(" " * (J::MAX_JSON_BYTES + 1))["id"]
  end

  def test_bounds_are_inclusive
    ok(%({"id":1,"features":[],"model":"#{'é' * 512}"}), "score")
    ok(%({"id":#{(1 << 64) - 1},"x":#{MIN64},"y":#{MAX64}}), "add")
  end

  def test_error_reply_is_bounded_valid_json
    msg = JSON.parse(J.error_reply(nil, ("\xFF".b * 10) + ("é" * 2000).b))
    assert_nil msg["id"]
    assert_operator msg["error"].bytesize, :<=, J::MAX_ERROR_BYTES
  end
end
