# frozen_string_literal: true

require "json"
require "stringio"
require "minitest/autorun"
require_relative "support"
require_relative "../raw_frame"
require_relative "../json_message"
require_relative "../message_answer"
require_relative "../workload"

# The three codecs in process, against the C++ reference's `codecs` vectors
# (schemas/test_vectors.json): every request form decodes to the request's
# values and is answered; raw and protobuf replies, alone and in the frame,
# equal the C++ peer's bytes bit for bit; JSON replies decode to its values.
# Then what the stream loop and the standalone answers do with bad input.
class TestCodecs < Minitest::Test
  include CodecVectors
  R = RawFrame
  FORMS = %w[raw json protobuf json_framed protobuf_framed].freeze

  def serve(bytes, echo: false)
    out = StringIO.new(String.new(encoding: Encoding::BINARY))
    log = StringIO.new
    status = R.serve(StringIO.new(bytes.b), out, echo: echo, log: log)
    [status, out.string, log.string]
  end

  # ----------------------------------------------------- decoding requests

  # A canonical form of a call, comparable across codecs: features as bits.
  def canon(op, values)
    case op
    when :add then [:add, values.map(&:to_i)]
    when :score then [:score, [values[0].map { |f| bits(f.to_f) }, values[1]]]
    else [:batch, values.map { |o, v| canon(o, v) }]
    end
  end

  def from_raw(frame)
    status, kind, id, len = R.decode_header(frame.byteslice(0, R::HEADER_SIZE))
    assert_equal [:ok, frame.bytesize - R::HEADER_SIZE], [status, len]
    payload = R.payload_of(frame)
    [id, raw_call(kind, payload)]
  end

  def raw_call(kind, payload)
    case kind
    when R::KIND_ADD_REQUEST then canon(:add, R.parse_add_request(payload))
    when R::KIND_SCORE_REQUEST then canon(:score, R.parse_score_request(payload))
    when R::KIND_BATCH_REQUEST then [:batch, R.parse_batch(payload).map { |k, p| raw_call(k, p) }]
    else flunk "kind #{kind}"
    end
  end

  def from_json(text, with_id: true)
    msg = JSON.parse(text)
    call = case msg["op"]
           when "add" then canon(:add, [msg["x"], msg["y"]])
           when "score" then canon(:score, [msg["features"], msg["model"]])
           else [:batch, msg["items"].map { |item| from_json(JSON.generate(item), with_id: false)[1] }]
           end
    [with_id ? msg["id"] : nil, call]
  end

  def from_pb(bytes)
    req = pb::Request.decode(bytes)
    case req.op
    when :add then [req.add.id, canon(:add, [req.add.x, req.add.y])]
    when :score then [req.score.id, canon(:score, [req.score.features.to_a, req.score.model])]
    else [req.batch.id, [:batch, req.batch.items.map { |item| from_pb(pb::Request.encode(item))[1] }]]
    end
  end

  def from_framed(frame, kind)
    status, got_kind, id, len = R.decode_header(frame.byteslice(0, R::HEADER_SIZE))
    assert_equal [:ok, kind, frame.bytesize - R::HEADER_SIZE], [status, got_kind, len]
    message_id, call = kind == R::KIND_JSON_REQUEST ? from_json(R.payload_of(frame)) : from_pb(R.payload_of(frame))
    assert_equal id, message_id, "the header's id is the message's"
    [id, call]
  end

  def test_every_request_form_decodes_to_the_request
    codec_vectors.each do |v|
      want = [v["request"]["id"], canon(*call_of(v["request"]))]
      assert_equal want, from_raw(form_bytes(v, "raw")), "#{v['name']}: raw"
      assert_equal want, from_json(form_bytes(v, "json")), "#{v['name']}: json"
      assert_equal want, from_pb(form_bytes(v, "protobuf")), "#{v['name']}: protobuf"
      assert_equal want, from_framed(form_bytes(v, "json_framed"), R::KIND_JSON_REQUEST), "#{v['name']}: json framed"
      assert_equal want, from_framed(form_bytes(v, "protobuf_framed"), R::KIND_PROTOBUF_REQUEST),
                   "#{v['name']}: protobuf framed"
    end
  end

  # What is made here is what the vectors hold (where they spell it out),
  # so the long vectors' requests made here are the reference's too.
  def test_requests_made_here_equal_the_vectors
    codec_vectors.each do |v|
      %w[raw protobuf protobuf_framed].each do |form|
        assert_codec_bytes(v, form, make_form(v, form).b)
      end
      # JSON: the same values (text may differ, not here as it happens).
      assert_equal from_json(form_bytes(v, "json")), from_json(make_form(v, "json")) if v.key?("json")
    end
  end

  # ------------------------------------------------------ answering them

  def test_raw_replies_bit_for_bit
    codec_vectors.each do |v|
      raw = form_bytes(v, "raw")
      status, out, log = serve(raw)
      assert_equal [:eof, ""], [status, log], v["name"]
      assert_codec_bytes(v, "reply_raw", out)
      assert_codec_bytes(v, "reply_raw", MessageAnswer.answer("raw", raw, nil)) # a Redis value, a file
    end
  end

  def test_protobuf_replies_bit_for_bit
    codec_vectors.each do |v|
      ok, reply = ProtobufMessage.respond(form_bytes(v, "protobuf"), nil)
      assert ok, v["name"]
      assert_codec_bytes(v, "reply_protobuf", reply)
      assert_codec_bytes(v, "reply_protobuf", MessageAnswer.answer("protobuf", form_bytes(v, "protobuf"), 5))
      # The gRPC stream's answer is the same message.
      assert_codec_bytes(v, "reply_protobuf",
                         pb::Reply.encode(ProtobufMessage.reply_for(pb::Request.decode(form_bytes(v, "protobuf")))))
    end
  end

  def test_protobuf_frames_answered_bit_for_bit_whatever_the_codec
    codec_vectors.each do |v|
      framed = form_bytes(v, "protobuf_framed")
      status, out, log = serve(framed)
      assert_equal [:eof, ""], [status, log], v["name"]
      assert_codec_bytes(v, "reply_protobuf_framed", out)
      # A raw Redis value or file holding the frame: the same answer.
      assert_codec_bytes(v, "reply_protobuf_framed", MessageAnswer.answer("raw", framed, nil))
    end
  end

  def test_json_replies_decode_to_the_reference
    codec_vectors.each do |v|
      # The checker first: the C++ peer's own replies pass it.
      assert_json_reply(v, v["reply_json"]) if v.key?("reply_json")
      assert_json_reply(v, R.payload_of([v["reply_json_framed_hex"]].pack("H*"))) if v.key?("reply_json_framed_hex")

      ok, body = JsonMessage.respond(form_bytes(v, "json"))
      assert ok, v["name"]
      assert_json_reply(v, body)

      [form_bytes(v, "json_framed"), make_form(v, "json_framed")].each do |framed|
        status, out, log = serve(framed)
        assert_equal [:eof, ""], [status, log], v["name"]
        (kind, id, payload), more = split_frames(out)
        assert_nil more
        assert_equal [R::KIND_JSON_REPLY, v["request"]["id"]], [kind, id], v["name"]
        assert_json_reply(v, payload)
        assert payload.dup.force_encoding(Encoding::UTF_8).valid_encoding?, v["name"]
        # What json_message.rb answers over Redis and files for that body, exactly.
        assert_equal body.b, payload
      end
    end
  end

  # One stream, every form of every vector in turn, the codecs mixed: each
  # reply in order, of its request's reply kind.
  def test_one_stream_mixes_the_codecs
    input = +"".b
    codec_vectors.each do |v|
      input << form_bytes(v, "raw") << form_bytes(v, "json_framed") << form_bytes(v, "protobuf_framed")
    end
    status, out, log = serve(input)
    assert_equal [:eof, ""], [status, log]
    got = split_frames(out)
    assert_equal codec_vectors.size * 3, got.size
    got.each_slice(3).zip(codec_vectors).each do |(raw, json, proto), v|
      assert_codec_bytes(v, "reply_raw", R.encode_frame(raw[0], raw[1], raw[2]))
      assert_equal R::KIND_JSON_REPLY, json[0]
      assert_json_reply(v, json[2])
      assert_codec_bytes(v, "reply_protobuf_framed", R.encode_frame(proto[0], proto[1], proto[2]))
    end
  end

  # ------------------------------------------------------------ bad input

  def json_frame(id, text)
    R.encode_frame(R::KIND_JSON_REQUEST, id, text.b)
  end

  def pb_frame(id, bytes)
    R.encode_frame(R::KIND_PROTOBUF_REQUEST, id, bytes.b)
  end

  def pb_reply(bytes)
    pb::Reply.decode(bytes)
  end

  # A JSON or protobuf message that does not parse, or breaks a bound, gets
  # its codec's error reply, with the header's id when it has none of its
  # own; the stream goes on.
  def test_bad_messages_get_their_codecs_error_and_the_stream_goes_on
    bad_model = pb::Request.encode(pb::Request.new(score: { id: 9, model: "ok" })).b.sub("ok".b, "\xC3\x28".b)
    input = json_frame(41, "not json {") +
            json_frame(42, '{"op":"add","x":1,"y":2}') +                     # no id of its own
            json_frame(43, '{"id":430,"op":"add","x":"a","y":1}') +          # its own id
            json_frame(44, '{"id":440,"op":"score","features":[],"model":"' + "m" * 1025 + '"}') +
            json_frame(45, '{"id":450,"op":"batch","items":[]}') +
            pb_frame(51, "\xFF\xFF\xFF".b) +                                 # does not decode
            pb_frame(52, "") +                                               # decodes, carries no call
            pb_frame(53, bad_model) +                                        # model not UTF-8: refused whole
            pb_frame(54, pb::Request.encode(pb::Request.new(score: { id: 540, features: [0.0] * 131_073 }))) +
            pb_frame(55, pb::Request.encode(pb::Request.new(batch: { id: 550 }))) +
            R.encode_add_request(56, 2, 3)
    status, out, log = serve(input)
    assert_equal :eof, status
    got = split_frames(out)
    assert_equal [R::KIND_JSON_REPLY] * 5 + [R::KIND_PROTOBUF_REPLY] * 5 + [R::KIND_ADD_REPLY], got.map(&:first)
    assert_equal [41, 42, 43, 44, 45, 51, 52, 53, 54, 55, 56], got.map { |f| f[1] }
    json_ids = got[0, 5].map do |_, _, payload|
      reply = JSON.parse(payload)
      assert_kind_of String, reply["error"]
      reply["id"]
    end
    assert_equal [41, 42, 430, 440, 450], json_ids
    pb_ids = got[5, 5].map do |_, _, payload|
      reply = pb_reply(payload)
      assert_equal :error, reply.result
      refute_empty reply.error
      reply.id
    end
    assert_equal [51, 52, 53, 540, 550], pb_ids
    assert_equal 5, R.parse_add_reply(got[10][2])
    assert_equal 10, log.lines.size, log
  end

  # payload_len is bounded by kind before anything is read: 4 MiB for JSON,
  # 16 MiB for protobuf; above it a raw error frame and the stream ends.
  def test_frames_over_their_kinds_bound_are_refused_unread
    [[R::KIND_JSON_REQUEST, R::MAX_JSON_PAYLOAD], [R::KIND_PROTOBUF_REQUEST, R::MAX_BATCH_PAYLOAD]].each do |kind, max|
      assert_equal :too_long, R.decode_header(R.encode_header(kind, 1, max + 1))[0]
      assert_equal :ok, R.decode_header(R.encode_header(kind, 1, max))[0]
      [false, true].each do |echo|
        status, out, log = serve(R.encode_header(kind, 61, max + 1) + R.encode_add_request(62, 1, 1), echo: echo)
        assert_equal :too_long, status
        (err, more) = split_frames(out)
        assert_nil more
        assert_equal [R::KIND_ERROR, 61], err[0, 2]
        assert_includes err[2], max.to_s
        assert_equal 1, log.lines.size
      end
    end
    # The reply kinds are bounded alike, and are not requests.
    assert_equal :too_long, R.decode_header(R.encode_header(R::KIND_JSON_REPLY, 1, R::MAX_JSON_PAYLOAD + 1))[0]
    assert_equal :ok, R.decode_header(R.encode_header(R::KIND_PROTOBUF_REPLY, 1, R::MAX_BATCH_PAYLOAD))[0]
    _status, out, = serve(R.encode_frame(R::KIND_JSON_REPLY, 63, '{"id":1,"result":2}'))
    assert_equal [[R::KIND_ERROR, 63]], split_frames(out).map { |f| f[0, 2] }
  end

  # A JSON message of exactly MAX_JSON_BYTES is read and answered.
  def test_a_json_frame_at_its_bound_is_answered
    text = '{"id":71,"op":"add","x":1,"y":2}'
    text += " " * (R::MAX_JSON_PAYLOAD - text.bytesize)
    status, out, = serve(json_frame(71, text))
    assert_equal :eof, status
    (kind, id, payload), = split_frames(out)
    assert_equal [R::KIND_JSON_REPLY, 71, { "id" => 71, "result" => 3 }], [kind, id, JSON.parse(payload)]
  end

  # A JSON batch whose reply would pass MAX_JSON_BYTES (100,000 wrong items:
  # ~45 bytes of error each) gets one error reply instead of a frame no
  # reader would take.
  def test_a_json_reply_over_its_bound_becomes_an_error
    text = %({"id":72,"op":"batch","items":[#{(['{"op":"x"}'] * 100_000).join(',')}]})
    status, out, log = serve(json_frame(72, text))
    assert_equal :eof, status
    (kind, id, payload), = split_frames(out)
    assert_equal [R::KIND_JSON_REPLY, 72], [kind, id]
    reply = JSON.parse(payload)
    assert_equal 72, reply["id"]
    assert_includes reply["error"], R::MAX_JSON_PAYLOAD.to_s
    assert_operator log.lines.size, :>=, 1
  end

  def test_echo_returns_json_and_protobuf_frames_unchanged
    input = codec_vectors.map { |v| form_bytes(v, "json_framed") + form_bytes(v, "protobuf_framed") }.join.b +
            json_frame(81, "not json") + pb_frame(82, "\xFF".b)
    status, out, log = serve(input, echo: true)
    assert_equal [:eof, input, ""], [status, out, log]
  end

  # A JSON or protobuf frame inside a batch is not a call: an error item.
  def test_a_codec_frame_kind_inside_a_raw_batch_is_an_error_item
    batch = R.encode_batch(R::KIND_BATCH_REQUEST, 91, [[R::KIND_JSON_REQUEST, '{"id":1,"op":"add","x":1,"y":2}'],
                                                       [R::KIND_ADD_REQUEST, [1, 2].pack("q<q<")]])
    _status, out, = serve(batch)
    (kind, id, payload), = split_frames(out)
    assert_equal [R::KIND_BATCH_REPLY, 91], [kind, id]
    assert_equal [R::KIND_ERROR, R::KIND_ADD_REPLY], R.parse_batch(payload).map(&:first)
  end

  # ------------------------------------ standalone messages (Redis, files)

  def test_standalone_raw_frames_that_cannot_be_answered
    log = StringIO.new
    frame = R.encode_add_request(101, 1, 2)
    # No id to answer (a Redis value): nothing, one log line.
    assert_nil MessageAnswer.answer("raw", "short".b, nil, log)
    assert_nil MessageAnswer.answer("raw", "JUNK".b + frame.byteslice(4..), nil, log)
    assert_equal 2, log.string.lines.size
    # A file's name gives the id.
    kind, id, = split_frames(MessageAnswer.answer("raw", "short".b, 7, log)).first
    assert_equal [R::KIND_ERROR, 7], [kind, id]
    kind, id, = split_frames(MessageAnswer.answer("raw", "JUNK".b + frame.byteslice(4..), 8, log)).first
    assert_equal [R::KIND_ERROR, 8], [kind, id]
    # Once magic and version are right, the header's id.
    [frame + "x", frame.byteslice(0, 30), R.encode_header(R::KIND_ADD_REQUEST, 101, R::MAX_PAYLOAD + 1)].each do |bad|
      kind, id, payload = split_frames(MessageAnswer.answer("raw", bad, nil, log)).first
      assert_equal [R::KIND_ERROR, 101], [kind, id]
      assert_operator payload.bytesize, :<=, R::MAX_ERROR_BYTES
    end
    kind, id, payload = split_frames(MessageAnswer.answer("raw", R.encode_header(0x07, 102, 0), nil, log)).first
    assert_equal [R::KIND_ERROR, 102], [kind, id]
    assert_includes payload, "unknown kind"
    assert_equal 3, MessageAnswer.answer("raw", frame, nil, log).unpack1("q<", offset: 24)
    # A frozen UTF-8 String (as a client library may hand one over) is fine too.
    assert_equal 3, MessageAnswer.answer("raw", frame.dup.force_encoding(Encoding::UTF_8).freeze, nil, log)
                                 .unpack1("q<", offset: 24)
  end

  def test_standalone_protobuf_messages_that_cannot_be_answered
    log = StringIO.new
    assert_nil MessageAnswer.answer("protobuf", "\xFF\xFF".b, nil, log)   # no id: nothing
    assert_nil MessageAnswer.answer("protobuf", "".b, nil, log)           # no call, no id
    assert_equal 2, log.string.lines.size
    reply = pb_reply(MessageAnswer.answer("protobuf", "\xFF\xFF".b, 9, log)) # a file's id
    assert_equal [9, :error], [reply.id, reply.result]
    big = "\0".b * (R::MAX_BATCH_PAYLOAD + 1)
    reply = pb_reply(MessageAnswer.answer("protobuf", big, 10, log))
    assert_equal [10, :error], [reply.id, reply.result]
    # A bound broken inside a message that decodes: its own id, also with no fallback.
    long_model = pb::Request.encode(pb::Request.new(score: { id: 11, model: "m" * 1025 }))
    reply = pb_reply(MessageAnswer.answer("protobuf", long_model, nil, log))
    assert_equal [11, :error], [reply.id, reply.result]
    nested = pb::Request.encode(pb::Request.new(batch: { id: 12, items: [{ batch: { id: 1 } }, { add: { x: 1, y: 1 } }] }))
    reply = pb_reply(MessageAnswer.answer("protobuf", nested, nil, log))
    assert_equal [12, :batch], [reply.id, reply.result]
    assert_equal [:error, :add], reply.batch.items.map(&:result)
    assert_equal 2, reply.batch.items[1].add.result
    assert_equal 0, reply.batch.items[1].id
  end

  def test_error_replies_in_each_codec
    assert_equal [R::KIND_ERROR, 5], split_frames(MessageAnswer.error("raw", 5, "x" * 5000)).first[0, 2]
    reply = pb_reply(MessageAnswer.error("protobuf", 6, "\xFF".b + "y" * 5000))
    assert_equal 6, reply.id
    assert_operator reply.error.bytesize, :<=, 1024
    assert_equal({ "id" => 7, "error" => "z" }, JSON.parse(MessageAnswer.error("json", 7, "z")))
  end
end
