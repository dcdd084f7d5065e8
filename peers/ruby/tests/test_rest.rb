# frozen_string_literal: true

require "minitest/autorun"
require "net/http"
require "socket"
require "json"
require_relative "support"
require_relative "../workload"

# The real peer, --transport=rest (Rack on Puma), over Net::HTTP with one
# keep-alive connection, as the harness uses it; raw sockets where Net::HTTP
# would hide what the server does. RestPeerTests holds what both modes share
# (the server, its bounds and errors); TestPeerRest runs the workload,
# TestPeerRestEcho the --echo floor.
module RestPeerTests
  include PeerTestSupport
  RAMP_256_HEX = "3fe376dba491b1ac" # schemas/test_vectors.json, "ramp 256, non-ASCII model"
  MAX_JSON_BYTES = 4_194_304
  ADD_BODY = '{"id":5,"x":1,"y":2}'

  def setup
    @peer = PeerProcess.new(["--transport=rest", "--address=127.0.0.1:0", *peer_flags])
    host, port = @peer.address.split(":")
    @http = Net::HTTP.new(host, Integer(port))
    @http.open_timeout = @http.read_timeout = @http.write_timeout = TIMEOUT
    @http.start
  end

  def teardown
    @http&.finish if @http&.started?
    @peer&.cleanup
  end

  def post(path, body, http: @http)
    http.post(path, body, "Content-Type" => "application/json")
  end

  def json_of(res)
    assert_equal "application/json", res["Content-Type"]
    JSON.parse(res.body)
  end

  def assert_client_error(res, *codes)
    assert_includes codes, res.code.to_i, res.body
    assert_kind_of String, json_of(res)["error"]
  end

  # POST /add with ADD_BODY gets 200 and add_reply_body (the sum, or with
  # --echo the body itself).
  def assert_serves_add(http: @http)
    res = post("/add", ADD_BODY, http: http)
    assert_equal "200", res.code, res.body
    assert_equal "application/json", res["Content-Type"]
    assert_equal add_reply_body, res.body
  end

  # A raw connection to the peer; the block gets it and it is closed after.
  def raw
    sock = TCPSocket.new(@http.address, @http.port)
    yield sock
  ensure
    sock&.close
  end

  # Everything the peer sends until it closes the connection (or TIMEOUT).
  def read_to_close(sock)
    data = +""
    deadline = now + TIMEOUT
    loop do
      chunk = sock.read_nonblock(65_536, exception: false)
      case chunk
      when nil then return data
      when :wait_readable
        left = deadline - now
        flunk "the peer did not close the connection; got #{data.inspect}" if left <= 0
        sock.wait_readable(left)
      else data << chunk
      end
    end
  rescue Errno::ECONNRESET
    data
  end

  def assert_413_and_closed(sock)
    reply = read_to_close(sock)
    assert_match(%r{\AHTTP/1\.1 413 }, reply)
    assert_match(/^Content-Type: application\/json\r$/i, reply)
    assert_kind_of String, JSON.parse(reply.split("\r\n\r\n", 2).last)["error"]
    refute_match(/100 Continue/, reply)
  end

  def test_ready_names_the_real_port
    assert_match(/\A127\.0\.0\.1:[1-9]\d*\z/, @peer.address)
  end

  # The project installs Debian's `puma`; the WEBrick fallback is for a
  # half-installed machine only and must not pass for the real thing.
  def test_served_by_puma
    assert_match(/^ruby peer: rest: Puma 5\.\d+\.\d+, \d+ threads$/, @peer.stderr,
                 "the REST peer is not running on Puma (apt-get install puma)")
    refute_match(/WEBrick/, @peer.stderr)
  end

  def test_oversize_body_gets_413
    res = post("/score", %({"id":1,"model":"m","features":[#{'0,' * (MAX_JSON_BYTES / 2)}0]}))
    assert_client_error res, 413
    # A batch has the same bound.
    item = '{"op":"add","x":1,"y":2},'
    res = post("/batch", %({"id":2,"op":"batch","items":[#{item * (MAX_JSON_BYTES / item.bytesize)}{}]}))
    assert_client_error res, 413
    fresh = Net::HTTP.start(@http.address, @http.port, read_timeout: TIMEOUT, open_timeout: TIMEOUT)
    assert_serves_add(http: fresh)
    fresh.finish
  end

  # Declared far beyond what is worth draining: 413 before any body is read,
  # then the connection closes.
  def test_huge_declared_body_gets_413_at_once
    raw do |s|
      s.write("POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" \
              "Content-Length: #{1 << 40}\r\n\r\n{\"id\":1,")
      assert_413_and_closed(s)
    end
    assert_serves_add
  end

  # A client waiting for "100 Continue" gets the 413 instead.
  def test_oversize_with_expect_continue_gets_413_without_continue
    raw do |s|
      s.write("POST /add HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n" \
              "Content-Length: #{MAX_JSON_BYTES + 1}\r\n\r\n")
      assert_413_and_closed(s)
    end
  end

  # Chunked: refused once the body passes the bound, not after reading it all.
  def test_oversize_chunked_body_gets_413
    raw do |s|
      s.write("POST /add HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
      chunk = " " * 65_536
      (MAX_JSON_BYTES / chunk.bytesize + 1).times { s.write("10000\r\n#{chunk}\r\n") }
      assert_413_and_closed(s)
    end
    raw do |s| # a chunked body within the bound (ADD_BODY in two chunks) is served
      s.write("POST /add HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n" \
              "8\r\n{\"id\":5,\r\nc\r\n\"x\":1,\"y\":2}\r\n0\r\n\r\n")
      reply = read_to_close(s)
      assert_match(%r{\AHTTP/1\.1 200 }, reply)
      assert_equal add_reply_body, reply.split("\r\n\r\n", 2).last
    end
  end

  def test_health_unknown_path_wrong_method
    res = @http.get("/health")
    assert_equal "200", res.code
    assert_equal({ "status" => "ok" }, json_of(res))
    assert_client_error @http.get("/nope"), 404
    assert_client_error @http.get("/add"), 405
    assert_client_error @http.get("/batch"), 405
    assert_client_error post("/health", "{}"), 405
  end

  # Without TCP_NODELAY (or with the header and the body sent separately)
  # every reply would wait ~40 ms for the delayed ACK.
  def test_no_delayed_ack_stall_on_keep_alive
    times = Array.new(30) do
      t0 = now
      assert_serves_add
      now - t0
    end
    median = times.sort[times.size / 2]
    assert_operator median, :<, 0.02, "median round trip #{(median * 1000).round(1)} ms"
  end

  def test_term_exits_0
    assert_exits_0_on_term
  end
end

class TestPeerRest < Minitest::Test
  include RestPeerTests

  def peer_flags
    []
  end

  def add_reply_body
    '{"id":5,"result":3}'
  end

  def test_add_with_int64_wrap
    assert_equal({ "id" => 1, "result" => MIN64 }, json_of(post("/add", %({"id":1,"x":#{MAX64},"y":1}))))
    assert_equal({ "id" => 2, "result" => MAX64 }, json_of(post("/add", %({"id":2,"x":#{MIN64},"y":-1}))))
    res = post("/add", %({"id":18446744073709551615,"op":"add","x":2,"y":3}))
    assert_equal "200", res.code
    assert_equal({ "id" => 18_446_744_073_709_551_615, "result" => 5 }, json_of(res))
  end

  def test_score_ramp_256_bit_for_bit
    body = JSON.generate({ "id" => 77, "features" => Workload.ramp_features(256), "model" => "modèle-ü" })
    reply = json_of(post("/score", body))
    assert_equal 77, reply["id"]
    assert_equal RAMP_256_HEX, [reply["score"]].pack("G").unpack1("H*")
    assert_equal "fraud", reply["label"]
  end

  def test_bad_requests_get_4xx_json_and_the_connection_keeps_serving
    assert_client_error post("/add", '{"x":"a","y":1}'), 400, 422
    assert_equal 3, json_of(post("/add", '{"id":5,"x":1,"y":2}'))["result"]
    assert_client_error post("/add", '{"id":1,"x":1,'), 400, 422 # malformed JSON
    assert_client_error post("/add", "[1,2]"), 400, 422
    assert_client_error post("/add", %({"id":1,"x":#{MAX64 + 1},"y":0})), 400, 422
    assert_client_error post("/add", '{"id":-1,"x":1,"y":0}'), 400, 422
    assert_client_error post("/add", '{"id":1,"x":1.5,"y":0}'), 400, 422
    assert_client_error post("/score", '{"id":1,"features":["a"],"model":"m"}'), 400, 422
    assert_client_error post("/score", %({"id":1,"features":[],"model":"#{'m' * 1025}"})), 400, 422
    assert_client_error post("/score", %({"id":1,"features":[#{(['0'] * 131_073).join(',')}],"model":"m"})), 400, 422
    assert_client_error post("/score", '{"id":1,"op":"add","features":[],"model":"m"}'), 400, 422
    assert_equal 7, json_of(post("/add", '{"id":6,"x":3,"y":4}'))["result"]
    res = post("/add", '{"x":"a","y":1}')
    assert_nil json_of(res)["id"]
    assert_operator @peer.stderr.lines.size, :>=, 10
    assert @peer.alive?
  end

  # ------------------------------------------------------------- batches

  JSON_BATCH = JSON.parse(File.read(File.expand_path("../../../schemas/test_vectors.json", __dir__)))["json_batch"]

  # A reply's items as the vectors write them (an error item's message is
  # each language's own).
  def batch_items_of(reply)
    reply["items"].map do |item|
      if item.key?("error")
        assert_kind_of String, item["error"]
        { "error" => true }
      elsif item.key?("result")
        { "add" => item["result"] }
      else
        { "score_hex" => [item["score"]].pack("G").unpack1("H*"), "label" => item["label"] }
      end
    end
  end

  # POST /batch with every json_batch vector: 200 and the items it names,
  # or, for a refused shape, 400 with the batch's id and one error.
  def test_batch_vectors
    JSON_BATCH.reject { |v| v.key?("generated") }.each do |v|
      res = post("/batch", v["request_json"])
      reply = json_of(res)
      assert_equal JSON.parse(v["request_json"])["id"], reply["id"], v["name"]
      if v["refused"]
        assert_equal "400", res.code, v["name"]
        assert_kind_of String, reply["error"], v["name"]
        refute reply.key?("items"), v["name"]
      else
        assert_equal "200", res.code, v["name"]
        assert_equal v["reply_items"], batch_items_of(reply), v["name"]
      end
    end
    assert_equal 3, json_of(post("/add", '{"id":6,"x":1,"y":2}'))["result"]
  end

  def test_batch_of_a_thousand_with_a_wrong_item
    v = JSON_BATCH.find { |x| x.key?("generated") }
    g = v["generated"]
    items = (0...g["count"]).map { |i| { "op" => "add", "x" => i * 1_000_003, "y" => 7 - i } }
    items[g["wrong"]].delete("y")
    res = post("/batch", JSON.generate({ "id" => g["id"], "op" => "batch", "items" => items }))
    assert_equal "200", res.code
    replies = json_of(res)["items"]
    assert_equal g["count"], replies.size
    assert_kind_of String, replies[g["wrong"]]["error"]
    bytes = replies.each_with_index.reject { |_, i| i == g["wrong"] }.map { |r, _| r["result"] }.pack("q<*")
    h = 0xcbf29ce484222325
    bytes.each_byte { |b| h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF }
    assert_equal v["results_fnv1a64"], format("%016x", h)
  end

  # /batch takes batches only, and the single-call paths no batch.
  def test_batch_path_wants_op_batch
    [%({"id":1,"op":"add","x":1,"y":2}), %({"id":1,"x":1,"y":2}), %({"id":1,"items":[{"op":"add","x":1,"y":2}]}),
     %({"id":1,"op":"batch","items":{}}), %({"id":1,"op":"batch"}),
     %({"id":1,"op":"batch","items":[#{(['{"op":"add","x":1,"y":2}'] * 100_001).join(',')}]}),
     %({"op":"batch","items":[{"op":"add","x":1,"y":2}]}), "[]", '{"id":1,"op":"batch",'].each do |body|
      assert_client_error post("/batch", body), 400
    end
    assert_client_error post("/add", %({"id":1,"op":"batch","items":[{"op":"add","x":1,"y":2}]})), 400
    assert_equal({ "id" => 3, "items" => [{ "result" => 5 }] },
                 json_of(post("/batch", %({"id":3,"op":"batch","items":[{"op":"add","x":2,"y":3}]}))))
    assert @peer.alive?
  end

  # Neither a half-sent request nor an idle keep-alive connection holds up
  # another client.
  def test_stalled_clients_do_not_block_another
    raw do |idle|
      idle.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
      idle.readpartial(4096) # answered; the connection stays open, idle
      raw do |half|
        half.write("POST /add HTTP/1.1\r\nHost: x\r\nContent-Length: 30\r\n\r\n{\"id\":1,")
        sleep 0.05
        t0 = now
        3.times { |i| assert_equal 3, json_of(post("/add", %({"id":#{i},"x":1,"y":2})))["result"] }
        assert_operator now - t0, :<, 1.0
      end
    end
  end
end

# --echo: POST /add and /score answer 200 with the very bytes they were sent,
# JSON or not; the server, its bounds and its errors are those of the row.
class TestPeerRestEcho < Minitest::Test
  include RestPeerTests

  def peer_flags
    ["--echo"]
  end

  def add_reply_body
    ADD_BODY
  end

  def assert_echoed(path, body)
    res = post(path, body)
    assert_equal "200", res.code, res.body
    assert_equal "application/json", res["Content-Type"]
    assert_equal body.b, res.body.b
  end

  def test_add_and_score_bodies_come_back_unchanged
    assert_echoed "/add", %({"id":1,"x":#{MAX64},"y":1})
    assert_echoed "/score", JSON.generate({ "id" => 77, "features" => Workload.ramp_features(256),
                                            "model" => "modèle-ü" })
  end

  def test_batch_bodies_come_back_unchanged
    items = Array.new(1000) { |i| { "op" => "add", "x" => i, "y" => 7 - i } }
    assert_echoed "/batch", JSON.generate({ "id" => 10, "op" => "batch", "items" => items })
    assert_echoed "/batch", '{"id":11,"op":"batch","items":[]}' # refused by the row: not looked at
    assert_echoed "/batch", '{"id":1,"op":"add","x":1,"y":2}'
  end

  # Nothing is parsed: what the row would refuse comes back as it is.
  def test_nothing_is_parsed
    assert_echoed "/add", '{"x":"a","y":1}'
    assert_echoed "/score", "not json {\xFF".b
    assert_echoed "/score", ""
    assert_empty @peer.stderr.lines.grep(/bad request/)
  end
end
