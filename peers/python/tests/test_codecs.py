"""The three codecs (raw, JSON, protobuf) wherever the peer carries bytes:
schemas/test_vectors.json's `codecs` answered in every form, bit for bit with
the C++ peer where the codec's bytes are fixed (raw, protobuf); frames of
kinds 0x20 / 0x30 on the stream loop, in shm slots and on real unix, tcp,
pipe and shm peers (raw_frame.md, "Other codecs in the frame"); and
raw_frame.answer_message, the answer to a raw frame standing alone (a Redis
value, a file)."""

import json
import os
import platform
import socket
import struct
import sys
import unittest
from pathlib import Path

PEER_DIR = Path(__file__).resolve().parent.parent
for _dir in (PEER_DIR, PEER_DIR / "tests"):
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))

from codec_vectors import (PB_MISSING, framed, from_json, from_protobuf, from_raw, given,
                           load, matches, pb, pb_error, request_forms, want)
import json_message as jm  # noqa: E402
import raw_frame as rf  # noqa: E402
import workload  # noqa: E402
from test_peer import PeerTestCase, PipeConn, SocketConn, header, read_frame  # noqa: E402
from test_raw_frame import QuietLog, run_loop, split_frames  # noqa: E402

if PB_MISSING is None:
    import protobuf_message as pm


def json_frame(id, message) -> bytes:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    return framed(rf.KIND_JSON_REQUEST, id, body)


def pb_frame(id, message) -> bytes:
    return framed(rf.KIND_PROTOBUF_REQUEST, id, message if isinstance(message, bytes)
                  else message.SerializeToString())


class CodecVectors(QuietLog):
    """Every request form of every vector decoded and answered."""

    def setUp(self):
        super().setUp()
        self.vectors = load()
        self.assertGreaterEqual(len(self.vectors), 7)

    def test_request_forms_encode_bit_for_bit(self):
        """The forms built here from the request (the long vectors' only
        source) are the C++ reference's bytes."""
        for v in self.vectors:
            for form, data in request_forms(v).items():
                with self.subTest(v["name"], form=form):
                    self.assertTrue(matches(v, form, data))

    def test_every_request_form_decodes_to_the_request(self):
        for v in self.vectors:
            r = v["request"]
            forms = request_forms(v)
            with self.subTest(v["name"]):
                kind, id, plen = rf.decode_header(forms["raw"])
                self.assertEqual(id, r["id"])
                self.assertEqual(kind, rf.KIND_BATCH_REQUEST if "batch" in r else
                                 rf.KIND_ADD_REQUEST if "add" in r else rf.KIND_SCORE_REQUEST)
                self.assertEqual(len(forms["raw"]), 24 + plen)
                body = json.loads(forms["json"])
                self.assertEqual((body["id"], body["op"]), (r["id"], "batch" if "batch" in r else
                                                            "add" if "add" in r else "score"))
                self.assertNotIn("reply_to", body)
                kind, id, plen = rf.decode_header(forms["json_framed"])
                self.assertEqual((kind, id, forms["json_framed"][24:]),
                                 (rf.KIND_JSON_REQUEST, r["id"], forms["json"]))
                if PB_MISSING is None:
                    msg = pb.Request.FromString(forms["protobuf"])
                    which = msg.WhichOneof("op")
                    self.assertEqual(which, "batch" if "batch" in r else "add" if "add" in r else "score")
                    self.assertEqual(getattr(msg, which).id, r["id"])
                    kind, id, _ = rf.decode_header(forms["protobuf_framed"])
                    self.assertEqual((kind, id, forms["protobuf_framed"][24:]),
                                     (rf.KIND_PROTOBUF_REQUEST, r["id"], forms["protobuf"]))
                if "add" in r:
                    self.assertEqual(rf.parse_add_request(forms["raw"][24:]), tuple(r["add"]))
                    self.assertEqual((body["x"], body["y"]), tuple(r["add"]))

    def test_the_cpp_replies_decode_to_the_reply(self):
        """The vectors' own replies, read with this file's decoders: the
        common form the peer's answers are held to."""
        for v in self.vectors:
            with self.subTest(v["name"]):
                for form in ("reply_raw", "reply_json", "reply_json_framed") + (
                        ("reply_protobuf", "reply_protobuf_framed") if PB_MISSING is None else ()):
                    data = given(v, form)
                    if data is None:
                        continue
                    decode = from_json if form == "reply_json" else (
                        from_protobuf if form == "reply_protobuf" else from_raw)
                    self.assertEqual(decode(data), (v["request"]["id"], want(v)), form)

    def answers(self, v) -> "dict[str, bytes]":
        """This peer's answer to every request form: alone as over Redis or
        files, framed as on a stream (serve_stream, fed whole) and in a shm
        slot (answer_frame)."""
        forms = request_forms(v)
        out = {"reply_raw": rf.answer_message(forms["raw"]),
               "reply_json": jm.answer_message(forms["json"])[0]}
        if PB_MISSING is None:
            out["reply_protobuf"] = pm.answer_message(forms["protobuf"])[0]
        for form in ("raw", "json_framed", "protobuf_framed"):
            if form not in forms:
                continue
            status, streamed = run_loop(rf.serve_stream, forms[form])
            self.assertEqual(status, rf.STREAM_EOF)
            slot = bytearray(len(streamed) + 4096)
            n = rf.answer_frame(memoryview(bytearray(forms[form])), memoryview(slot))
            self.assertEqual(bytes(slot[:n]), streamed, "answer_frame and serve_stream differ")
            self.assertEqual(rf.answer_message(forms[form]), streamed,
                             "a frame alone (Redis, file) is answered as on a stream")
            out["reply_" + form] = streamed
        return out

    def test_raw_and_protobuf_answers_are_the_cpp_peers_bit_for_bit(self):
        for v in self.vectors:
            answers = self.answers(v)
            for form in ("reply_raw", "reply_protobuf", "reply_protobuf_framed"):
                if form in answers:
                    with self.subTest(v["name"], form=form):
                        self.assertTrue(matches(v, form, answers[form]), answers[form][:64].hex())

    def test_every_answer_decodes_to_the_reply(self):
        for v in self.vectors:
            for form, data in self.answers(v).items():
                with self.subTest(v["name"], form=form):
                    decode = from_json if form == "reply_json" else (
                        from_protobuf if form == "reply_protobuf" else from_raw)
                    self.assertEqual(decode(data), (v["request"]["id"], want(v)))
                    if form == "reply_json_framed":
                        self.assertEqual(data[5], rf.KIND_JSON_REPLY)
                        # The header's id and the JSON body's are the request's.
                        self.assertEqual(json.loads(data[24:])["id"], v["request"]["id"])

    @unittest.skipIf(PB_MISSING, PB_MISSING)
    def test_grpc_stream_answers_alike(self):
        """The gRPC Stream RPC's answers (protobuf_message.answer_request) are
        the byte tiers' (answer_message), so grpc-stream matches the vectors too."""
        for v in self.vectors:
            forms = request_forms(v)
            reply, problem = pm.answer_request(pb.Request.FromString(forms["protobuf"]))
            self.assertIsNone(problem)
            self.assertTrue(matches(v, "reply_protobuf", reply.SerializeToString()), v["name"])


class StreamFrames(QuietLog):
    """JSON and protobuf frames on serve_stream, among raw ones."""

    def frames(self, data, step=None):
        status, out = run_loop(rf.serve_stream, data, step)
        return status, split_frames(out)

    def test_json_frames_and_bad_ones(self):
        add = json_frame(5, {"id": 5, "op": "add", "x": 2, "y": 3})
        batch = json_frame(6, {"id": 6, "op": "batch", "items": [
            {"op": "add", "x": 1, "y": 1}, {"op": "mul"}, {"op": "score", "features": [0.4, 1.2], "model": "m"}]})
        bad_text = json_frame(7, b"{not json")
        no_id = json_frame(8, {"op": "add", "x": 1, "y": 2})
        own_id = json_frame(9, {"id": 90, "op": "add", "x": "a", "y": 2})
        not_utf8 = json_frame(10, b'{"id":10,"op":"score","features":[],"model":"\xff"}')
        empty = json_frame(11, b"")
        data = add + batch + bad_text + no_id + own_id + not_utf8 + empty + rf.encode_add_request(12, 1, 2)
        for step in (None, 7):
            with self.subTest(step=step):
                status, frames = self.frames(data, step)
                self.assertEqual(status, rf.STREAM_EOF)
                self.assertEqual([(k, i) for k, i, _ in frames],
                                 [(rf.KIND_JSON_REPLY, i) for i in range(5, 12)] + [(rf.KIND_ADD_REPLY, 12)])
                bodies = [json.loads(p) for _, _, p in frames[:-1]]
                self.assertEqual(bodies[0], {"id": 5, "result": 5})
                self.assertEqual([sorted(i) for i in bodies[1]["items"]],
                                 [["result"], ["error"], ["label", "score"]])
                # No id of its own (or none that parses): the header's.
                self.assertEqual([(b["id"], sorted(b)) for b in bodies[2:]],
                                 [(7, ["error", "id"]), (8, ["error", "id"]), (90, ["error", "id"]),
                                  (10, ["error", "id"]), (11, ["error", "id"])])
        self.assertTrue(any("id 7" in line for line in self.logged))

    @unittest.skipIf(PB_MISSING, PB_MISSING)
    def test_protobuf_frames_and_bad_ones(self):
        add = pb_frame(5, pb.Request(add=pb.AddRequest(id=5, x=2, y=3)))
        score = pb_frame(6, pb.Request(score=pb.ScoreRequest(id=6, features=workload.ramp_features(256),
                                                             model="modèle-ü")))
        garbage = pb_frame(7, b"\xff\xff\xff")
        empty = pb_frame(8, b"")  # parses: a Request with no op
        too_many = pb_frame(9, pb.Request(score=pb.ScoreRequest(id=90, features=[0.5] * 131073)))
        no_items = pb_frame(10, pb.Request(batch=pb.BatchRequest(id=100)))
        nested = pb_frame(11, pb.Request(batch=pb.BatchRequest(id=11, items=[
            pb.Request(add=pb.AddRequest(x=1, y=2)), pb.Request(batch=pb.BatchRequest()), pb.Request()])))
        data = add + score + garbage + empty + too_many + no_items + nested + rf.encode_add_request(12, 1, 2)
        status, frames = self.frames(data)
        self.assertEqual(status, rf.STREAM_EOF)
        self.assertEqual([(k, i) for k, i, _ in frames],
                         [(rf.KIND_PROTOBUF_REPLY, i) for i in range(5, 12)] + [(rf.KIND_ADD_REPLY, 12)])
        replies = [p for _, _, p in frames[:-1]]
        self.assertEqual(replies[0], pb.Reply(id=5, add=pb.AddReply(id=5, result=5)).SerializeToString())
        self.assertEqual(from_protobuf(replies[1]),
                         (6, {"score_hex": "3fe376dba491b1ac", "label": "fraud"}))
        self.assertEqual(pb_error(replies[2])[0], 7)   # does not parse: the header's id
        self.assertEqual(pb_error(replies[3])[0], 8)   # no op, no id: the header's
        self.assertIn("131072", pb_error(replies[4])[1])
        self.assertEqual(pb_error(replies[4])[0], 90)  # its own id
        self.assertEqual(pb_error(replies[5])[0], 100)
        self.assertEqual(from_protobuf(replies[6]), (11, {"items": [{"add": 3}, {"error": True}, {"error": True}]}))

    def test_bounds_by_kind(self):
        """A JSON frame may pass MAX_PAYLOAD up to 4 MiB, a protobuf one up to
        16 MiB; above its bound a frame is refused before anything is read
        (a raw error frame, the stream closed)."""
        self.assertEqual(rf.max_payload(rf.KIND_JSON_REQUEST), 4_194_304)
        self.assertEqual(rf.max_payload(rf.KIND_JSON_REPLY), 4_194_304)
        self.assertEqual(rf.max_payload(rf.KIND_PROTOBUF_REQUEST), 16_777_216)
        self.assertEqual(rf.max_payload(rf.KIND_PROTOBUF_REPLY), 16_777_216)
        for kind, bound in ((rf.KIND_JSON_REQUEST, 4_194_304), (rf.KIND_PROTOBUF_REQUEST, 16_777_216)):
            with self.subTest(kind=kind):
                head = header(kind, 33, bound + 1)
                reads = []

                def reader(mv, head=head):
                    reads.append(len(mv))
                    if len(reads) > 1:
                        raise AssertionError("read past the refused header")
                    mv[:24] = head
                    return 24

                out = bytearray()
                self.assertEqual(rf.serve_stream(reader, out.extend), rf.STREAM_CLOSED)
                [(k, i, message)] = split_frames(bytes(out))
                self.assertEqual((k, i), (rf.KIND_ERROR, 33))
                self.assertIn(str(bound), message.decode())
                self.assertEqual(rf.echo_stream(lambda mv: (mv.__setitem__(slice(0, 24), head), 24)[1],
                                                bytearray().extend), rf.STREAM_CLOSED)

    def test_a_json_frame_past_max_payload_is_served(self):
        features = workload.ramp_features(131072)
        body = json.dumps({"id": 3, "op": "score", "features": features, "model": "m"}).encode()
        self.assertGreater(len(body), rf.MAX_PAYLOAD)
        status, frames = self.frames(json_frame(3, body) + rf.encode_add_request(4, 1, 1))
        self.assertEqual(status, rf.STREAM_EOF)
        self.assertEqual(frames[0][:2], (rf.KIND_JSON_REPLY, 3))
        s, label = workload.score(features)
        self.assertEqual(json.loads(frames[0][2]), {"id": 3, "score": s, "label": label})
        self.assertEqual(frames[1][:2], (rf.KIND_ADD_REPLY, 4))

    @unittest.skipIf(PB_MISSING, PB_MISSING)
    def test_a_protobuf_batch_past_max_payload_is_served(self):
        items = [pb.Request(add=pb.AddRequest(x=i, y=2**63 - 1)) for i in range(100000)]
        message = pb.Request(batch=pb.BatchRequest(id=4, items=items)).SerializeToString()
        self.assertGreater(len(message), rf.MAX_PAYLOAD)
        status, frames = self.frames(pb_frame(4, message))
        self.assertEqual(status, rf.STREAM_EOF)
        [(kind, id, payload)] = frames
        self.assertEqual((kind, id), (rf.KIND_PROTOBUF_REPLY, 4))
        self.assertEqual(from_protobuf(payload),
                         (4, {"items": [{"add": workload.add(i, 2**63 - 1)} for i in range(100000)]}))

    def test_echo_sends_codec_frames_back_unchanged(self):
        body = json.dumps({"id": 3, "op": "score", "features": workload.ramp_features(131072),
                           "model": "m"}).encode()
        data = json_frame(3, body) + pb_frame(4, b"\xff not even protobuf") + json_frame(5, b"{")
        status, out = run_loop(rf.echo_stream, data, None)
        self.assertEqual((status, out), (rf.STREAM_EOF, data))

    def test_answer_frame_in_a_slot(self):
        out = bytearray(rf.REPLY_CAPACITY)
        frame = json_frame(5, {"id": 5, "op": "add", "x": 2, "y": 3})
        n = rf.answer_frame(memoryview(bytearray(frame) + bytes(64)), memoryview(out))
        self.assertEqual(from_raw(bytes(out[:n])), (5, {"add": 5}))
        # A reply longer than its slot becomes one raw error frame.
        big = json_frame(6, {"id": 6, "op": "batch", "items": [{"op": "add", "x": i, "y": 1} for i in range(200)]})
        n = rf.answer_frame(memoryview(bytearray(big)), memoryview(out))
        self.assertEqual(split_frames(bytes(out[:n]))[0][:2], (rf.KIND_ERROR, 6))
        # A JSON frame longer than its own bound, though it would fit the slot.
        n = rf.answer_frame(memoryview(bytearray(header(rf.KIND_JSON_REQUEST, 7, 4_194_305)) + bytes(4_194_305)),
                            memoryview(out))
        self.assertEqual(split_frames(bytes(out[:n]))[0][:2], (rf.KIND_ERROR, 7))


class MessagesAlone(QuietLog):
    """raw_frame.answer_message: one whole frame as a Redis value or a file."""

    def test_frames_are_answered_as_on_a_stream(self):
        self.assertEqual(rf.answer_message(rf.encode_add_request(3, 2, 3)), rf.encode_add_reply(3, 5))
        self.assertEqual(from_raw(rf.answer_message(json_frame(4, {"id": 4, "op": "add", "x": 1, "y": 1}))),
                         (4, {"add": 2}))
        self.assertEqual(rf.decode_header(rf.answer_message(header(0x09, 5, 0)))[:2], (rf.KIND_ERROR, 5))

    def test_what_has_no_id_is_dropped_unless_a_fallback_is_given(self):
        for data in (b"", b"short", header(1, 6, 16, magic=0xDEADBEEF) + bytes(16)):
            with self.subTest(data=data[:8]):
                self.assertIsNone(rf.answer_message(data))
                kind, id, _ = rf.decode_header(rf.answer_message(data, 77))
                self.assertEqual((kind, id), (rf.KIND_ERROR, 77))
        self.assertEqual(len(self.logged), 6)

    def test_a_frame_must_fill_the_message_exactly(self):
        frame = rf.encode_add_request(8, 2, 3)
        for data in (frame + b"\0", frame[:-1], header(rf.KIND_ADD_REQUEST, 8, rf.MAX_PAYLOAD + 1)):
            with self.subTest(size=len(data)):
                kind, id, _ = rf.decode_header(rf.answer_message(data, 99))
                self.assertEqual((kind, id), (rf.KIND_ERROR, 8))  # the header's id, not the fallback

    def test_the_reply_is_bytes(self):
        """redis-py sends bytes, not a bytearray (a batch's reply is built in one)."""
        batch = rf.encode_batch(rf.KIND_BATCH_REQUEST, 9, [(rf.KIND_ADD_REQUEST, struct.pack("<qq", 1, 2))])
        self.assertIs(type(rf.answer_message(batch)), bytes)


@unittest.skipIf(PB_MISSING, PB_MISSING)
class ProtobufMessages(QuietLog):
    def test_bound_and_fallback_id(self):
        too_long = bytes(pm.MAX_MESSAGE_BYTES + 1)
        self.assertEqual(pm.answer_message(too_long, None)[0], None)
        reply, problem = pm.answer_message(too_long, 5)
        self.assertEqual(pb_error(reply), (5, problem))
        self.assertEqual(pm.answer_message(b"\xff", None)[0], None)
        self.assertEqual(pb_error(pm.answer_message(b"\xff", 6)[0])[0], 6)
        # An add whose result is 0 still says "add" (0a 00), as the C++ peer's does.
        reply, _ = pm.answer_message(pb.Request(batch=pb.BatchRequest(id=1, items=[
            pb.Request(add=pb.AddRequest(x=1, y=-1))])).SerializeToString())
        self.assertEqual(reply.hex(), "2001" + "2a06" + "0801" + "1202" + "0a00")

    def test_error_messages_are_bounded(self):
        reply, _ = pm.refusal(3, "é" * 2000)
        self.assertLessEqual(len(pb_error(reply)[1].encode()), rf.MAX_ERROR_BYTES)


# ---------------------------------------------------------------- real peers

class StreamPeerCodecs:
    """A real stream peer, started with each --codec: JSON and protobuf
    frames among raw ones, a bad one of each, then an oversize JSON frame
    refused (a raw error frame, the connection closed, the peer serving on)."""

    def check_codec_frames(self, conn):
        conn.send(json_frame(1, {"id": 1, "op": "add", "x": 2**63 - 1, "y": 1}))
        self.assertEqual(from_raw(self.frame(conn)), (1, {"add": -2**63}))
        conn.send(json_frame(2, b"[1, 2"))
        kind, id, payload = read_frame(conn)
        self.assertEqual((kind, id, sorted(json.loads(payload))), (rf.KIND_JSON_REPLY, 2, ["error", "id"]))
        self.check_add(conn, 3)
        if PB_MISSING is None:
            for v in load():
                forms = request_forms(v)
                conn.send(forms["protobuf_framed"])
                self.assertTrue(matches(v, "reply_protobuf_framed", self.frame(conn)), v["name"])
                conn.send(forms["json_framed"])
                self.assertEqual(from_raw(self.frame(conn)), (v["request"]["id"], want(v)))
            conn.send(pb_frame(4, b"\x0a\x05\x08"))  # cut short
            kind, id, payload = read_frame(conn)
            self.assertEqual((kind, id, pb_error(payload)[0]), (rf.KIND_PROTOBUF_REPLY, 4, 4))
        self.check_add(conn, 5)
        conn.send(header(rf.KIND_JSON_REQUEST, 6, 4_194_305) + b"{" * 64)
        self.assertIn("4194304", self.expect_error(conn, 6))
        self.expect_closed(conn)

    def frame(self, conn) -> bytes:
        kind, id, payload = read_frame(conn)
        return rf.encode_header(kind, id, len(payload)) + payload

    def test_codec_frames_with_each_codec(self):
        for codec in ("raw", "json", "protobuf"):
            with self.subTest(codec=codec):
                proc = self.start_peer(f"--codec={codec}")
                self.check_codec_frames(self.connect(proc))
                self.check_add(self.connect(proc), 7)
                self.assertIsNone(proc.poll())


class UnixCodecTest(StreamPeerCodecs, PeerTestCase):
    def start_peer(self, *extra):
        path = os.path.join(self.tmp, f"s{len(os.listdir(self.tmp))}.sock")
        return self.start("unix", path, *extra)

    def connect(self, proc):
        conn = SocketConn(socket.AF_UNIX, proc.ready_address)
        self.addCleanup(conn.close)
        return conn


class TcpCodecTest(StreamPeerCodecs, PeerTestCase):
    def start_peer(self, *extra):
        return self.start("tcp", "127.0.0.1:0", *extra)

    def connect(self, proc):
        host, _, port = proc.ready_address.rpartition(":")
        conn = SocketConn(socket.AF_INET, (host, int(port)))
        self.addCleanup(conn.close)
        return conn


class PipeCodecTest(PeerTestCase):
    def test_codec_frames_then_oversize_json_exits_3(self):
        proc = self.start("pipe", "-", "--codec=json")
        conn = PipeConn(proc)
        conn.send(json_frame(1, {"id": 1, "op": "add", "x": 2, "y": 3}))
        self.assertEqual(read_frame(conn), (rf.KIND_JSON_REPLY, 1, b'{"id":1,"result":5}'))
        if PB_MISSING is None:
            conn.send(pb_frame(2, pb.Request(add=pb.AddRequest(id=2, x=2, y=3))))
            self.assertEqual(read_frame(conn), (rf.KIND_PROTOBUF_REPLY, 2, bytes.fromhex("0a04080210052002")))
        conn.send(json_frame(3, b"\xff"))
        kind, id, payload = read_frame(conn)
        self.assertEqual((kind, id, json.loads(payload)["id"]), (rf.KIND_JSON_REPLY, 3, 3))
        conn.send(header(rf.KIND_JSON_REQUEST, 4, 4_194_305))
        self.expect_error(conn, 4)
        self.assertEqual(self.wait_exit(proc), 3)

    def test_protobuf_codec_needs_the_generated_code(self):
        """--codec=protobuf loads it before READY: without it, exit 1."""
        env = dict(os.environ, INTEROP_GENERATED_DIR=os.path.join(self.tmp, "nowhere"))
        proc = self.start("pipe", "-", "--codec=protobuf", wait_ready=False, env=env)
        self.assertEqual(self.wait_exit(proc), 1)
        self.assertIn("generated protobuf code", self.stderr_of(proc))
        # Without it a raw row still answers a protobuf frame: a raw error frame.
        proc = self.start("pipe", "-", env=env)
        conn = PipeConn(proc)
        conn.send(pb_frame(5, b""))
        self.expect_error(conn, 5)
        self.check_add(conn, 6)


@unittest.skipUnless(platform.machine() == "x86_64", "the Python shm peer runs on x86-64 only")
class ShmCodecTest(PeerTestCase):
    def test_codec_frames_in_slots(self):
        from test_shm import Segment
        seg = Segment(f"/interop-spectrum-test-{os.getpid()}-codecs")
        self.addCleanup(seg.close)
        self.start("shm-spin", seg.name, "--codec=json")
        self.assertEqual(seg.call(json_frame(1, {"id": 1, "op": "add", "x": 2, "y": 3})),
                         (rf.KIND_JSON_REPLY, 1, b'{"id":1,"result":5}'))
        kind, id, payload = seg.call(json_frame(2, b"nope"))
        self.assertEqual((kind, id, json.loads(payload)["id"]), (rf.KIND_JSON_REPLY, 2, 2))
        if PB_MISSING is None:
            for v in load():
                forms = request_forms(v)
                kind, id, payload = seg.call(forms["protobuf_framed"])
                self.assertTrue(matches(v, "reply_protobuf_framed", framed(kind, id, payload)), v["name"])
                kind, id, payload = seg.call(forms["json_framed"])
                self.assertEqual((kind, id), (rf.KIND_JSON_REPLY, v["request"]["id"]))
                self.assertEqual(from_json(payload), (v["request"]["id"], want(v)))
            kind, id, payload = seg.call(pb_frame(3, b"\xff"))
            self.assertEqual((kind, id, pb_error(payload)[0]), (rf.KIND_PROTOBUF_REPLY, 3, 3))
        self.assertEqual(seg.call(rf.encode_add_request(4, 1, 2)), (rf.KIND_ADD_REPLY, 4, struct.pack("<q", 3)))


class CodecOptions(unittest.TestCase):
    def test_which_transports_take_which_codecs(self):
        import contextlib
        import io
        import peer
        every = ("raw", "json", "protobuf")
        table = {"unix": every, "tcp": every, "pipe": every, "shm": every, "shm-spin": every,
                 "redis": every, "redis-stream": every, "file": every, "file-poll": every,
                 "rest": ("json",), "grpc": ("protobuf",), "grpc-stream": ("protobuf",)}
        defaults = {"unix": "raw", "tcp": "raw", "pipe": "raw", "shm": "raw", "shm-spin": "raw",
                    "redis": "json", "redis-stream": "json", "file": "json", "file-poll": "json",
                    "rest": "json", "grpc": "protobuf", "grpc-stream": "protobuf"}
        for transport, codecs in table.items():
            args, _ = peer.parse_args([f"--transport={transport}", "--address=x"])
            self.assertEqual(args.codec, defaults[transport], transport)
            for codec in every:
                with self.subTest(transport=transport, codec=codec):
                    argv = [f"--transport={transport}", "--address=x", f"--codec={codec}"]
                    if codec in codecs:
                        self.assertEqual(peer.parse_args(argv)[0].codec, codec)
                    else:
                        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit):
                            peer.parse_args(argv)


if __name__ == "__main__":
    unittest.main()
