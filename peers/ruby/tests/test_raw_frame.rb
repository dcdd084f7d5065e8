# frozen_string_literal: true

require "minitest/autorun"
require "stringio"
require_relative "../raw_frame"

# The codec, and the request loop run in-process over StringIO streams.
class TestRawFrame < Minitest::Test
  R = RawFrame
  BIG_ID = 0xFEDC_BA98_7654_3210 # above 2**63: ids are u64

  def split(frame)
    status, kind, id, len = R.decode_header(frame.byteslice(0, R::HEADER_SIZE))
    assert_equal :ok, status
    payload = frame.byteslice(R::HEADER_SIZE, frame.bytesize - R::HEADER_SIZE)
    assert_equal len, payload.bytesize
    [kind, id, payload]
  end

  def test_header_layout
    h = R.encode_header(R::KIND_ADD_REQUEST, 0x0102030405060708, 16)
    assert_equal 24, h.bytesize
    assert_equal Encoding::BINARY, h.encoding
    assert_equal "ISPF".b, h.byteslice(0, 4)
    assert_equal "4953504601010000080706050403020110000000" \
                 "00000000", h.unpack1("H*")
  end

  def test_decode_header_statuses
    assert_equal [:ok, 1, 7, 16], R.decode_header(R.encode_header(1, 7, 16))
    assert_equal :ok, R.decode_header(R.encode_header(2, 7, R::MAX_PAYLOAD))[0]
    assert_equal :too_long, R.decode_header(R.encode_header(2, 7, R::MAX_PAYLOAD + 1))[0]
    bad = R.encode_header(1, 7, 16)
    bad.setbyte(0, 0x58)
    assert_equal :bad_magic, R.decode_header(bad)[0]
    bad = R.encode_header(1, 7, 16)
    bad.setbyte(4, 2)
    assert_equal :bad_magic, R.decode_header(bad)[0]
  end

  def test_add_request_round_trip
    [[2, 3], [-(1 << 63), (1 << 63) - 1], [-1, 0]].each do |x, y|
      kind, id, payload = split(R.encode_add_request(BIG_ID, x, y))
      assert_equal R::KIND_ADD_REQUEST, kind
      assert_equal BIG_ID, id
      assert_equal [x, y], R.parse_add_request(payload)
    end
  end

  def test_add_reply_round_trip
    kind, id, payload = split(R.encode_add_reply(9, -(1 << 63)))
    assert_equal [R::KIND_ADD_REPLY, 9], [kind, id]
    assert_equal(-(1 << 63), R.parse_add_reply(payload))
  end

  def test_score_request_round_trip
    features = [0.4, 1.2, -0.0, Float::INFINITY, 5e-324, -1.7976931348623157e308]
    frame = R.encode_score_request(42, features, "modèle-ü")
    kind, id, payload = split(frame)
    assert_equal [R::KIND_SCORE_REQUEST, 42], [kind, id]
    assert_equal 8 + 8 * features.size + "modèle-ü".bytesize, payload.bytesize
    assert_equal 0, frame.byteslice(32, 8).unpack1("E") <=> 0.4 # features at offset 32
    f, model = R.parse_score_request(payload)
    assert_equal features.map { |x| [x].pack("E") }, f.map { |x| [x].pack("E") }
    assert_equal "modèle-ü", model
    assert_equal Encoding::UTF_8, model.encoding
  end

  def test_score_request_empty
    f, model = R.parse_score_request(split(R.encode_score_request(1, [], ""))[2])
    assert_empty f
    assert_equal "", model
  end

  def test_score_reply_round_trip
    kind, id, payload = split(R.encode_score_reply(3, 0.25, "fraud"))
    assert_equal [R::KIND_SCORE_REPLY, 3], [kind, id]
    assert_equal 21, payload.bytesize
    assert_equal 0, payload.unpack1("L<", offset: 12) # reserved
    assert_equal [0.25, "fraud"], R.parse_score_reply(payload)
  end

  def test_error_reply_is_cut_to_1024_bytes
    kind, id, payload = split(R.encode_error(5, "x" * 5000))
    assert_equal [R::KIND_ERROR, 5], [kind, id]
    assert_equal 1024, payload.bytesize
  end

  def assert_frame_error(message_part, payload)
    e = assert_raises(R::FrameError) { R.parse_score_request(payload) }
    assert_includes e.message, message_part
  end

  def test_score_request_bad_payloads
    assert_frame_error "shorter than 8", "\x01\x00".b
    assert_frame_error "more than 131072", [131_073, 0].pack("L<L<")
    assert_frame_error "longer than 1024", [0, 1025].pack("L<L<") + "m" * 1025
    assert_frame_error "does not match", [2, 1].pack("L<L<") + [1.0].pack("E") + "m"
    assert_frame_error "does not match", [131_072, 0].pack("L<L<")
    ["\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xFF", "\xE2\x82"].each do |bad|
      assert_frame_error "UTF-8", [0, bad.bytesize].pack("L<L<") + bad.b
    end
  end

  def test_add_request_bad_payload
    assert_raises(R::FrameError) { R.parse_add_request("\x00".b * 15) }
    assert_raises(R::FrameError) { R.parse_score_reply("\x00".b * 15) }
    assert_raises(R::FrameError) { R.parse_add_reply("\x00".b * 9) }
  end

  def test_valid_utf8
    assert R.valid_utf8?("モデル-αβγ-😀".b)
    refute R.valid_utf8?("\xED\xBF\xBF".b) # surrogate
  end

  # ------------------------------------------------ the loop, in-process

  def serve(bytes, echo: false)
    out = StringIO.new(String.new(encoding: Encoding::BINARY))
    log = StringIO.new
    status = R.serve(StringIO.new(bytes.b), out, echo: echo, log: log)
    [status, out.string, log.string]
  end

  def frames(bytes)
    list = []
    pos = 0
    while pos < bytes.bytesize
      len = bytes.unpack1("L<", offset: pos + 16)
      list << split(bytes.byteslice(pos, 24 + len))
      pos += 24 + len
    end
    list
  end

  def test_serve_requests
    input = R.encode_add_request(1, (1 << 63) - 1, 1) +
            R.encode_score_request(BIG_ID, Workload.ramp_features(256), "modèle-ü") +
            R.encode_add_request(3, 2, 3)
    status, out, log = serve(input)
    assert_equal :eof, status
    assert_equal "", log
    (a, b, c) = frames(out)
    assert_equal [R::KIND_ADD_REPLY, 1, -(1 << 63)], [a[0], a[1], R.parse_add_reply(a[2])]
    assert_equal [R::KIND_SCORE_REPLY, BIG_ID], b[0, 2]
    score, label = R.parse_score_reply(b[2])
    assert_equal "3fe376dba491b1ac", [score].pack("G").unpack1("H*")
    assert_equal "fraud", label
    assert_equal 5, R.parse_add_reply(c[2])
  end

  def test_serve_bad_payloads_keep_serving
    input = R.encode_header(7, 11, 3) + "abc" +                       # unknown kind
            R.encode_header(R::KIND_ADD_REQUEST, 12, 8) + "\0" * 8 +  # wrong add size
            R.encode_header(R::KIND_SCORE_REQUEST, 13, 8) + [5, 0].pack("L<L<") + # n inconsistent
            R.encode_header(R::KIND_ADD_REPLY, 14, 0) +               # a reply kind is not a request
            R.encode_add_request(15, 2, 3)
    status, out, log = serve(input)
    assert_equal :eof, status
    got = frames(out)
    assert_equal [R::KIND_ERROR] * 4 + [R::KIND_ADD_REPLY], got.map(&:first)
    assert_equal [11, 12, 13, 14, 15], got.map { |f| f[1] }
    assert_equal 5, R.parse_add_reply(got[4][2])
    assert_equal 4, log.lines.size
    assert_includes got[0][2], "unknown kind 0x07"
  end

  def test_serve_bad_magic_stops_with_id_0
    input = "XXXX".b + R.encode_add_request(9, 1, 2).byteslice(4..) + R.encode_add_request(10, 1, 2)
    status, out, log = serve(input)
    assert_equal :bad_magic, status
    (err,) = frames(out)
    assert_equal [R::KIND_ERROR, 0], err[0, 2]
    assert_equal 1, log.lines.size
  end

  def test_serve_too_long_stops_without_reading
    status, out, log = serve(R.encode_header(R::KIND_SCORE_REQUEST, 77, R::MAX_PAYLOAD + 1))
    assert_equal :too_long, status
    assert_equal [[R::KIND_ERROR, 77]], frames(out).map { |f| f[0, 2] }
    assert_equal 1, log.lines.size
  end

  def test_serve_truncated
    assert_equal :truncated, serve(R.encode_add_request(1, 1, 2).byteslice(0, 30))[0]
    assert_equal :truncated, serve(R.encode_add_request(1, 1, 2).byteslice(0, 10))[0]
    assert_equal :eof, serve("")[0]
  end

  def test_echo_returns_bytes_unchanged
    input = R.encode_add_request(1, 2, 3) + R.encode_header(0x55, 2, 0) +
            R.encode_score_request(3, [1.5] * 100, "m") + R.encode_header(7, 4, 5) + "\xFF\xFE\x00\x01\x02".b
    status, out, = serve(input, echo: true)
    assert_equal :eof, status
    assert_equal input, out
    status, out, = serve(R.encode_header(1, 8, R::MAX_PAYLOAD + 1), echo: true)
    assert_equal :too_long, status
    assert_equal [[R::KIND_ERROR, 8]], frames(out).map { |f| f[0, 2] }
  end
end
