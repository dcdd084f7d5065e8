"""The raw frame codec and the shared stream loops, in memory (no process)."""

import io
import struct
import sys
import unittest
from pathlib import Path

PEER_DIR = Path(__file__).resolve().parent.parent
if str(PEER_DIR) not in sys.path:
    sys.path.insert(0, str(PEER_DIR))

import raw_frame as rf  # noqa: E402
import workload  # noqa: E402


def header(kind, id, payload_len, magic=rf.MAGIC, version=rf.VERSION):
    return struct.pack("<IBBHQII", magic, version, kind, 0, id, payload_len, 0)


def score_payload(n, model_len, features=b"", model=b""):
    return struct.pack("<II", n, model_len) + features + model


def split_frames(data):
    """[(kind, id, payload bytes)] from a byte string of whole frames."""
    out, pos = [], 0
    while pos < len(data):
        kind, id, plen = rf.decode_header(data, pos)
        out.append((kind, id, data[pos + 24:pos + 24 + plen]))
        pos += 24 + plen
    return out


class Trickle:
    """A reader that hands out at most `step` bytes per readinto call."""

    def __init__(self, data, step):
        self.data, self.pos, self.step = data, 0, step

    def readinto(self, mv):
        n = min(len(mv), self.step, len(self.data) - self.pos)
        mv[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n


def run_loop(loop, data, step=None):
    out = []
    reader = io.BytesIO(data).readinto if step is None else Trickle(data, step).readinto
    status = loop(reader, lambda b: out.append(bytes(b)))
    return status, b"".join(out)


class Codec(unittest.TestCase):
    def test_header_layout(self):
        h = rf.encode_header(rf.KIND_SCORE_REPLY, 0x0102030405060708, 21)
        self.assertEqual(len(h), 24)
        self.assertEqual(h[:4], b"ISPF")
        self.assertEqual(h[4], 1)
        self.assertEqual(h[5], 0x82)
        self.assertEqual(h[6:8], b"\0\0")
        self.assertEqual(h[8:16], bytes.fromhex("0807060504030201"))
        self.assertEqual(h[16:20], struct.pack("<I", 21))
        self.assertEqual(h[20:24], b"\0\0\0\0")
        self.assertEqual(rf.decode_header(h), (0x82, 0x0102030405060708, 21))

    def test_header_refusals(self):
        with self.assertRaises(rf.FrameError):
            rf.decode_header(header(1, 1, 16, magic=0x12345678))
        with self.assertRaises(rf.FrameError):
            rf.decode_header(header(1, 1, 16, version=2))
        with self.assertRaises(rf.FrameError):
            rf.decode_header(header(1, 1, rf.MAX_PAYLOAD + 1))
        with self.assertRaises(rf.FrameError):
            rf.decode_header(header(1, 1, 16)[:23])
        self.assertEqual(rf.decode_header(header(1, 1, rf.MAX_PAYLOAD))[2], rf.MAX_PAYLOAD)

    def test_add_round_trips(self):
        for x, y in ((2, 3), (-2**63, 2**63 - 1), (-1, -1)):
            frame = rf.encode_add_request(7, x, y)
            self.assertEqual(len(frame), 40)
            kind, id, plen = rf.decode_header(frame)
            self.assertEqual((kind, id, plen), (rf.KIND_ADD_REQUEST, 7, 16))
            self.assertEqual(rf.parse_add_request(frame[24:]), (x, y))
            reply = rf.encode_add_reply(2**64 - 1, workload.add(x, y))
            self.assertEqual(rf.decode_header(reply), (rf.KIND_ADD_REPLY, 2**64 - 1, 8))
            self.assertEqual(rf.parse_add_reply(reply[24:]), workload.add(x, y))
        with self.assertRaises(rf.FrameError):
            rf.parse_add_request(b"\0" * 15)
        with self.assertRaises(rf.FrameError):
            rf.parse_add_reply(b"\0" * 9)

    def test_score_request_round_trip(self):
        features = workload.ramp_features(256)
        model = "modèle-ü"
        frame = rf.encode_score_request(9, features, model)
        mb = model.encode()
        self.assertEqual(len(frame), 24 + 8 + 8 * 256 + len(mb))
        self.assertEqual(rf.decode_header(frame), (rf.KIND_SCORE_REQUEST, 9, 8 + 8 * 256 + len(mb)))
        # Features start at frame offset 32.
        self.assertEqual(frame[32:40], struct.pack("<d", features[0]))
        got, got_model = rf.parse_score_request(frame[24:])
        self.assertEqual(got.format, "d")
        self.assertEqual(list(got), features)
        self.assertEqual(got_model, model)
        # A buffer of doubles encodes the same as a list.
        mv = memoryview(struct.pack("<256d", *features)).cast("d")
        self.assertEqual(rf.encode_score_request(9, mv, model), frame)
        # Empty features and empty model.
        empty = rf.encode_score_request(1, [], "")
        got, got_model = rf.parse_score_request(empty[24:])
        self.assertEqual((len(got), got_model), (0, ""))

    def test_score_request_refusals(self):
        cases = {
            "short": b"\0" * 7,
            "too many features": score_payload(rf.MAX_FEATURES + 1, 0),
            "model too long": score_payload(0, rf.MAX_MODEL_BYTES + 1, model=b"m" * 1025),
            "n inconsistent": score_payload(3, 1, b"\0" * 16, b"m"),
            "model_len inconsistent": score_payload(1, 2, b"\0" * 8, b"m"),
            "trailing byte": score_payload(1, 1, b"\0" * 8, b"mm"),
            "overlong utf-8": score_payload(0, 2, model=b"\xc0\xaf"),
            "surrogate": score_payload(0, 3, model=b"\xed\xa0\x80"),
            "past U+10FFFF": score_payload(0, 4, model=b"\xf4\x90\x80\x80"),
            "truncated sequence": score_payload(0, 2, model=b"\xe3\x83"),
        }
        for name, payload in cases.items():
            with self.subTest(name):
                with self.assertRaises(rf.FrameError):
                    rf.parse_score_request(payload)

    def test_score_reply_round_trip(self):
        frame = rf.encode_score_reply(5, 0.6082590307465146, "fraud")
        self.assertEqual(rf.decode_header(frame), (rf.KIND_SCORE_REPLY, 5, 21))
        self.assertEqual(frame[24:32], struct.pack("<d", 0.6082590307465146))
        self.assertEqual(frame[32:36], struct.pack("<I", 5))
        self.assertEqual(frame[36:40], b"\0\0\0\0")
        self.assertEqual(frame[40:], b"fraud")
        self.assertEqual(rf.parse_score_reply(frame[24:]), (0.6082590307465146, "fraud"))
        with self.assertRaises(rf.FrameError):
            rf.parse_score_reply(frame[24:-1])

    def test_error_reply(self):
        frame = rf.encode_error(3, "nope")
        self.assertEqual(rf.decode_header(frame), (rf.KIND_ERROR, 3, 4))
        self.assertEqual(rf.parse_error(frame[24:]), "nope")
        long = rf.encode_error(3, "x" * 5000)
        self.assertEqual(rf.decode_header(long)[2], rf.MAX_ERROR_BYTES)


class QuietLog(unittest.TestCase):
    """Collects the loops' stderr lines instead of printing them."""

    def setUp(self):
        self.logged = []
        saved = rf.log
        rf.log = self.logged.append
        self.addCleanup(setattr, rf, "log", saved)


class ServeStream(QuietLog):
    def test_add_and_score(self):
        requests = (rf.encode_add_request(1, 2**63 - 1, 1)
                    + rf.encode_score_request(2, workload.ramp_features(256), "modèle-ü")
                    + rf.encode_add_request(3, -7, 3))
        for step in (None, 1, 7):
            with self.subTest(step=step):
                status, out = run_loop(rf.serve_stream, requests, step)
                self.assertEqual(status, rf.STREAM_EOF)
                self.assertEqual(out, rf.encode_add_reply(1, -2**63)
                                 + rf.encode_score_reply(2, 0.6082590307465146, "fraud")
                                 + rf.encode_add_reply(3, -4))

    def test_large_score_grows_the_buffer(self):
        for v in load_big_vectors():
            features = workload.ramp_features(v["features"]["ramp"])
            requests = rf.encode_score_request(8, features, v["model"]) + rf.encode_add_request(9, 1, 2)
            status, out = run_loop(rf.serve_stream, requests)
            frames = split_frames(out)
            self.assertEqual(status, rf.STREAM_EOF)
            self.assertEqual(frames[0][:2], (rf.KIND_SCORE_REPLY, 8))
            s, label = rf.parse_score_reply(frames[0][2])
            self.assertEqual(struct.pack(">d", s).hex(), v["score_hex"])
            self.assertEqual(label, v["label"])
            self.assertEqual(frames[1], (rf.KIND_ADD_REPLY, 9, struct.pack("<q", 3)))

    def test_bad_payloads_get_an_error_and_the_stream_goes_on(self):
        bad = [
            header(0x09, 11, 4) + b"abcd",  # unknown kind
            header(rf.KIND_ADD_REPLY, 12, 8) + b"\0" * 8,  # a reply kind is not a request
            header(rf.KIND_ADD_REQUEST, 13, 8) + b"\0" * 8,  # wrong add size
            header(rf.KIND_ADD_REQUEST, 14, 0),
            header(rf.KIND_SCORE_REQUEST, 15, 25) + score_payload(3, 1, b"\0" * 16, b"m"),
            header(rf.KIND_SCORE_REQUEST, 16, 4) + b"\0" * 4,
            header(rf.KIND_SCORE_REQUEST, 17, 10) + score_payload(0, 2, model=b"\xc0\xaf"),
        ]
        for frame in bad:
            id = struct.unpack_from("<Q", frame, 8)[0]
            with self.subTest(id=id):
                status, out = run_loop(rf.serve_stream, frame + rf.encode_add_request(99, 1, 1))
                self.assertEqual(status, rf.STREAM_EOF)
                frames = split_frames(out)
                self.assertEqual(len(frames), 2)
                self.assertEqual(frames[0][:2], (rf.KIND_ERROR, id))
                self.assertTrue(0 < len(frames[0][2]) <= rf.MAX_ERROR_BYTES)
                self.assertEqual(frames[1], (rf.KIND_ADD_REPLY, 99, struct.pack("<q", 2)))
        self.assertEqual(len(self.logged), len(bad))  # one stderr line per bad request

    def test_bad_magic_or_version_closes(self):
        for frame in (header(1, 5, 16, magic=0xDEADBEEF), header(1, 5, 16, version=9)):
            status, out = run_loop(rf.serve_stream, frame + b"\0" * 16 + rf.encode_add_request(1, 1, 1))
            self.assertEqual(status, rf.STREAM_CLOSED)
            self.assertEqual(split_frames(out), [(rf.KIND_ERROR, 0, b"bad magic or version")])

    def test_too_long_closes_before_reading(self):
        reads = []

        def reader(mv):
            reads.append(len(mv))
            frame = header(1, 77, rf.MAX_PAYLOAD + 1)
            mv[:24] = frame
            return 24

        out = []
        self.assertEqual(rf.serve_stream(reader, lambda b: out.append(bytes(b))), rf.STREAM_CLOSED)
        self.assertEqual(reads, [24])  # nothing past the header was asked for
        frames = split_frames(b"".join(out))
        self.assertEqual(len(frames), 1)
        self.assertEqual(frames[0][:2], (rf.KIND_ERROR, 77))

    def test_eof_inside_a_frame_closes_without_reply(self):
        whole = rf.encode_add_request(1, 1, 1)
        for cut in (1, 23, 24, 39):
            with self.subTest(cut=cut):
                self.assertEqual(run_loop(rf.serve_stream, whole[:cut]), (rf.STREAM_CLOSED, b""))
        score = rf.encode_score_request(2, [1.0] * 10, "m")
        self.assertEqual(run_loop(rf.serve_stream, score[:-1]), (rf.STREAM_CLOSED, b""))
        self.assertEqual(run_loop(rf.serve_stream, b""), (rf.STREAM_EOF, b""))
        self.assertEqual(len(self.logged), 5)


class EchoStream(QuietLog):
    def test_frames_come_back_unchanged(self):
        frames = (rf.encode_add_request(1, 2, 3)
                  + rf.encode_score_request(2, workload.ramp_features(70000), "m")
                  + header(0x33, 4, 5, magic=0x01020304) + b"hello"  # not decoded
                  + header(0, 5, 0))
        for step in (None, 5):
            with self.subTest(step=step):
                self.assertEqual(run_loop(rf.echo_stream, frames, step), (rf.STREAM_EOF, frames))
        self.assertEqual(self.logged, [])

    def test_echo_still_bounds_payload_len(self):
        status, out = run_loop(rf.echo_stream, header(1, 6, rf.MAX_PAYLOAD + 1) + b"x" * 100)
        self.assertEqual(status, rf.STREAM_CLOSED)
        self.assertEqual(split_frames(out)[0][:2], (rf.KIND_ERROR, 6))

    def test_echo_eof_inside_a_frame(self):
        self.assertEqual(run_loop(rf.echo_stream, rf.encode_add_request(1, 2, 3)[:30]),
                         (rf.STREAM_CLOSED, b""))


class AnswerFrame(QuietLog):
    """answer_frame: one frame in memory (shm's slots) -> one reply frame."""

    def answer(self, frame, slack=64):
        slot = bytearray(frame) + b"\xee" * slack  # a slot is longer than its frame
        out = bytearray(rf.REPLY_CAPACITY)
        n = rf.answer_frame(memoryview(slot), memoryview(out))
        return split_frames(bytes(out[:n]))

    def test_add_and_score(self):
        self.assertEqual(self.answer(rf.encode_add_request(1, 2**63 - 1, 1)),
                         [(rf.KIND_ADD_REPLY, 1, struct.pack("<q", -2**63))])
        frame = rf.encode_score_request(2, workload.ramp_features(256), "modèle-ü")
        self.assertEqual(self.answer(frame),
                         split_frames(rf.encode_score_reply(2, 0.6082590307465146, "fraud")))
        self.assertEqual(self.logged, [])

    def test_bad_frames_get_error_frames(self):
        cases = [(header(1, 5, 16, magic=0xDEADBEEF) + b"\0" * 16, 0),
                 (header(1, 5, 16, version=2) + b"\0" * 16, 0),
                 (header(1, 6, rf.MAX_PAYLOAD + 1), 6),
                 (header(1, 7, 1000), 7),  # longer than the buffer holding it
                 (header(0x09, 8, 0), 8),
                 (header(1, 9, 8) + b"\0" * 8, 9),
                 (header(2, 10, 8) + score_payload(131073, 0), 10),
                 (header(2, 11, 8) + score_payload(1, 0), 11),
                 (header(2, 12, 10) + score_payload(0, 2, model=b"\xc0\xaf"), 12)]
        for frame, id in cases:
            with self.subTest(frame=frame[:32]):
                [(kind, rid, message)] = self.answer(frame, slack=0 if id == 7 else 64)
                self.assertEqual((kind, rid), (rf.KIND_ERROR, id))
                self.assertTrue(0 < len(message) <= rf.MAX_ERROR_BYTES)
        self.assertEqual(len(self.logged), len(cases))
        self.assertEqual(self.answer(b"\0" * 10, slack=0)[0][:2], (rf.KIND_ERROR, 0))


def fnv1a64(data: bytes) -> str:
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def batch_items(vector):
    """A raw_batch vector's items as written: spelled out, or generated."""
    if "items" in vector:
        return vector["items"]
    wrong = vector["generated"]["wrong"]
    return [{"kind": 1, "payload_hex": "00" * 8} if i == wrong else {"add": [i * 1000003, 7 - i]}
            for i in range(vector["generated"]["count"])]


def request_item(item):
    """(kind, payload) of one request item of a vector."""
    if "add" in item:
        return rf.KIND_ADD_REQUEST, rf.payload_of(rf.encode_add_request(0, *item["add"]))
    if "score" in item:
        f = item["score"]["features"]
        features = workload.ramp_features(f["ramp"]) if isinstance(f, dict) else f
        return rf.KIND_SCORE_REQUEST, rf.payload_of(rf.encode_score_request(0, features, item["score"]["model"]))
    return item["kind"], bytes.fromhex(item["payload_hex"])


def answer_item(kind, payload):
    """The reply item to one request item: what a peer computes for it."""
    try:
        if kind == rf.KIND_ADD_REQUEST:
            return rf.KIND_ADD_REPLY, rf.payload_of(rf.encode_add_reply(0, workload.add(*rf.parse_add_request(payload))))
        if kind == rf.KIND_SCORE_REQUEST:
            score, label = workload.score(*rf.parse_score_request(payload))
            return rf.KIND_SCORE_REPLY, rf.payload_of(rf.encode_score_reply(0, score, label))
        raise rf.FrameError("unknown kind")
    except rf.FrameError as e:
        return rf.KIND_ERROR, rf.payload_of(rf.encode_error(0, str(e)))


class Batches(unittest.TestCase):
    """schemas/test_vectors.json's raw_batch: the C++ reference's frames, bit for bit."""

    def vectors(self):
        import json
        path = PEER_DIR.parent.parent / "schemas" / "test_vectors.json"
        with open(path, encoding="utf-8") as f:
            vectors = json.load(f)["raw_batch"]
        self.assertEqual(len(vectors), 4)
        return vectors

    def check_bytes(self, vector, which, data):
        if which + "_hex" in vector:
            self.assertEqual(data.hex(), vector[which + "_hex"], vector["name"])
        else:
            self.assertEqual((len(data), fnv1a64(data)),
                             (vector[which + "_bytes"], vector[which + "_fnv1a64"]), vector["name"])

    def test_requests_encode_bit_for_bit(self):
        for v in self.vectors():
            frame = rf.encode_batch(rf.KIND_BATCH_REQUEST, v["id"], [request_item(i) for i in batch_items(v)])
            self.check_bytes(v, "request", frame)

    def test_answers_match_item_by_item_and_encode_bit_for_bit(self):
        for v in self.vectors():
            frame = rf.encode_batch(rf.KIND_BATCH_REQUEST, v["id"], [request_item(i) for i in batch_items(v)])
            kind, rid, plen = rf.decode_header(frame)
            self.assertEqual((kind, rid, plen), (rf.KIND_BATCH_REQUEST, v["id"], len(frame) - 24))
            answers = [answer_item(k, p) for k, p in rf.parse_batch(frame[24:])]
            self.check_bytes(v, "reply", rf.encode_batch(rf.KIND_BATCH_REPLY, v["id"], answers))
            wrong = [i for i, (k, _) in enumerate(answers) if k == rf.KIND_ERROR]
            if "reply_items" in v:  # only the wrong items, and not their batch
                self.assertEqual(wrong, [i for i, x in enumerate(v["reply_items"]) if "error" in x], v["name"])
                for (k, p), want in zip(answers, v["reply_items"]):
                    if "add" in want:
                        self.assertEqual((k, rf.parse_add_reply(p)), (rf.KIND_ADD_REPLY, want["add"]))
                    elif "score_hex" in want:
                        score, label = rf.parse_score_reply(p)
                        self.assertEqual((struct.pack(">d", score).hex(), label), (want["score_hex"], want["label"]))
            else:
                self.assertEqual(wrong, [v["generated"]["wrong"]], v["name"])

    def test_readers_bound_payload_len_by_kind(self):
        """MAX_BATCH_PAYLOAD for a batch request or reply, MAX_PAYLOAD for any other kind."""
        for kind in (rf.KIND_BATCH_REQUEST, rf.KIND_BATCH_REPLY):
            self.assertEqual(rf.max_payload(kind), rf.MAX_BATCH_PAYLOAD)
            self.assertEqual(rf.decode_header(header(kind, 1, rf.MAX_BATCH_PAYLOAD))[2], rf.MAX_BATCH_PAYLOAD)
            with self.assertRaises(rf.FrameError):
                rf.decode_header(header(kind, 1, rf.MAX_BATCH_PAYLOAD + 1))
        for kind in (rf.KIND_ADD_REQUEST, rf.KIND_SCORE_REQUEST, rf.KIND_ADD_REPLY, rf.KIND_ERROR, 0x11, 0):
            self.assertEqual(rf.max_payload(kind), rf.MAX_PAYLOAD)
            with self.assertRaises(rf.FrameError):
                rf.decode_header(header(kind, 1, rf.MAX_PAYLOAD + 1))

    def check_vector_reply(self, v, reply):
        """A peer's whole reply frame to a vector's request: bit for bit, and
        item by item on kinds and results."""
        kind, rid, plen = rf.decode_header(reply)
        self.assertEqual((kind, rid, plen), (rf.KIND_BATCH_REPLY, v["id"], len(reply) - 24), v["name"])
        self.check_bytes(v, "reply", reply)
        items = rf.parse_batch(reply[24:])
        if "reply_items" in v:
            wants = v["reply_items"]
        else:
            wrong = v["generated"]["wrong"]
            wants = [v["wrong_reply_item"] if i == wrong else {"add": workload.add(i * 1000003, 7 - i)}
                     for i in range(v["generated"]["count"])]
        self.assertEqual(len(items), len(wants), v["name"])
        for i, ((k, p), want) in enumerate(zip(items, wants)):
            if "add" in want:
                self.assertEqual((k, rf.parse_add_reply(p)), (rf.KIND_ADD_REPLY, want["add"]), (v["name"], i))
            elif "score_hex" in want:
                self.assertEqual(k, rf.KIND_SCORE_REPLY, (v["name"], i))
                score, label = rf.parse_score_reply(p)
                self.assertEqual((struct.pack(">d", score).hex(), label), (want["score_hex"], want["label"]))
            else:
                self.assertEqual(k, rf.KIND_ERROR, (v["name"], i))
                self.assertTrue(0 < len(p) <= rf.MAX_ERROR_BYTES)

    def test_the_stream_loop_answers_every_vector(self):
        """serve_stream (unix, tcp, pipe) on each vector's request frame, whole
        and a few bytes at a time, then a single add on the same stream."""
        saved, rf.log = rf.log, lambda line: None
        self.addCleanup(setattr, rf, "log", saved)
        for v in self.vectors():
            request = rf.encode_batch(rf.KIND_BATCH_REQUEST, v["id"], [request_item(i) for i in batch_items(v)])
            for step in (None, 13):
                with self.subTest(v["name"], step=step):
                    status, out = run_loop(rf.serve_stream, request + rf.encode_add_request(99, 1, 2), step)
                    self.assertEqual(status, rf.STREAM_EOF)
                    tail = rf.encode_add_reply(99, 3)
                    self.assertEqual(out[-len(tail):], tail)
                    self.check_vector_reply(v, out[:-len(tail)])

    def test_answer_frame_answers_every_vector(self):
        """answer_frame (shm's slots) on each vector's request frame."""
        saved, rf.log = rf.log, lambda line: None
        self.addCleanup(setattr, rf, "log", saved)
        for v in self.vectors():
            request = rf.encode_batch(rf.KIND_BATCH_REQUEST, v["id"], [request_item(i) for i in batch_items(v)])
            with self.subTest(v["name"]):
                out = bytearray(32 + 48 * len(batch_items(v)) + 4096)
                n = rf.answer_frame(memoryview(bytearray(request) + bytes(64)), memoryview(out))
                self.check_vector_reply(v, bytes(out[:n]))

    def test_bad_shapes_refuse_the_whole_batch(self):
        good = rf.encode_batch(rf.KIND_BATCH_REQUEST, 1, [request_item({"add": [1, 2]})])[24:]
        cases = {
            "shorter than 8": good[:4],
            "count 0": struct.pack("<II", 0, 0),
            "count over the bound": struct.pack("<II", rf.MAX_BATCH_ITEMS + 1, 0) + good[8:],
            "item overruns": good[:-1],
            "count says two": struct.pack("<II", 2, 0) + good[8:],
            "bytes left over": good + b"\0" * 8,
        }
        for what, payload in cases.items():
            with self.subTest(what):
                with self.assertRaises(rf.FrameError):
                    rf.parse_batch(payload)
        self.assertEqual(len(rf.parse_batch(good)), 1)


def batch_frame(id, items):
    return rf.encode_batch(rf.KIND_BATCH_REQUEST, id, items)


def single_answer(kind, payload):
    """The one reply frame serve_stream gives the item as a request of its own."""
    status, out = run_loop(rf.serve_stream, header(kind, 0, len(payload)) + payload)
    return split_frames(out)[0]


class BatchFrames(QuietLog):
    """Batch frames through the loops: answered as their items' calls would
    be alone, wrong items in place, wrong shapes refused, bounds by kind."""

    def mixed_items(self):
        return [request_item({"add": [2**63 - 1, 1]}),
                request_item({"score": {"features": {"ramp": 256}, "model": "modèle-ü"}}),
                (0x09, b"abcd"),  # unknown kind
                (rf.KIND_ADD_REPLY, b"\0" * 8),  # a reply kind is not a request
                (rf.KIND_ADD_REQUEST, b"\0" * 8),  # wrong add size
                (rf.KIND_SCORE_REQUEST, score_payload(rf.MAX_FEATURES + 1, 0)),
                (rf.KIND_SCORE_REQUEST, score_payload(0, rf.MAX_MODEL_BYTES + 1, model=b"m" * 1025)),
                (rf.KIND_SCORE_REQUEST, score_payload(0, 2, model=b"\xc0\xaf")),  # not UTF-8
                (rf.KIND_SCORE_REQUEST, score_payload(0, 0)),  # no features, no model: fine
                request_item({"score": {"features": [1e6], "model": ""}}),  # exp overflows
                request_item({"add": [-7, 3]})]

    def test_items_are_answered_as_single_calls_would_be(self):
        items = self.mixed_items()
        frame = batch_frame(41, items)
        for step in (None, 5):
            with self.subTest(step=step):
                self.logged.clear()
                status, out = run_loop(rf.serve_stream, frame + rf.encode_add_request(42, 1, 1), step)
                self.assertEqual(status, rf.STREAM_EOF)
                # One stderr line for the batch's wrong items, not one per item.
                self.assertEqual(len(self.logged), 1)
                self.assertIn("6 of 11", self.logged[0])
                frames = split_frames(out)
                self.assertEqual([f[:2] for f in frames], [(rf.KIND_BATCH_REPLY, 41), (rf.KIND_ADD_REPLY, 42)])
                answers = rf.parse_batch(frames[0][2])
                self.assertEqual(len(answers), len(items))
                for i, ((kind, payload), (got_kind, got)) in enumerate(zip(items, answers)):
                    alone = single_answer(kind, payload)
                    if alone[0] == rf.KIND_ERROR:
                        self.assertEqual(got_kind, rf.KIND_ERROR, i)
                        self.assertTrue(0 < len(got) <= rf.MAX_ERROR_BYTES)
                    else:
                        self.assertEqual((got_kind, bytes(got)), (alone[0], alone[2]), i)  # bit for bit
                self.assertEqual([k for k, _ in answers],
                                 [0x81, 0x82, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x82, 0x82, 0x81])

    def test_wrong_shapes_get_one_error_frame_and_the_stream_goes_on(self):
        good = batch_frame(1, [request_item({"add": [1, 2]})])[24:]
        shapes = [struct.pack("<II", 0, 0),  # count 0
                  struct.pack("<II", rf.MAX_BATCH_ITEMS + 1, 0) + good[8:],
                  good[:4],  # shorter than its count
                  good[:-8],  # the item overruns
                  struct.pack("<II", 2, 0) + good[8:],
                  good + b"\0" * 8,  # bytes left over
                  b""]
        for i, payload in enumerate(shapes):
            with self.subTest(i=i):
                frame = header(rf.KIND_BATCH_REQUEST, 50 + i, len(payload)) + payload
                status, out = run_loop(rf.serve_stream, frame + rf.encode_add_request(99, 1, 1))
                self.assertEqual(status, rf.STREAM_EOF)
                frames = split_frames(out)
                self.assertEqual(len(frames), 2)
                self.assertEqual(frames[0][:2], (rf.KIND_ERROR, 50 + i))
                self.assertTrue(0 < len(frames[0][2]) <= rf.MAX_ERROR_BYTES)
                self.assertEqual(frames[1], (rf.KIND_ADD_REPLY, 99, struct.pack("<q", 2)))
        self.assertEqual(len(self.logged), len(shapes))

    def test_a_batch_longer_than_max_payload_is_served(self):
        """Three scores of 50,000 features: 1.2 MB, past a single frame's bound,
        answered bit for bit like three frames of their own; the add after it
        still takes the hot path."""
        items = [request_item({"score": {"features": {"ramp": 50000}, "model": f"m{i}"}}) for i in range(3)]
        frame = batch_frame(5, items)
        self.assertGreater(len(frame) - 24, rf.MAX_PAYLOAD)
        for step in (None, 65536):
            status, out = run_loop(rf.serve_stream, frame + rf.encode_add_request(6, 2, 2), step)
            self.assertEqual(status, rf.STREAM_EOF)
            frames = split_frames(out)
            self.assertEqual(frames[0][:2], (rf.KIND_BATCH_REPLY, 5))
            self.assertEqual([(k, bytes(p)) for k, p in rf.parse_batch(frames[0][2])],
                             [single_answer(k, p)[::2] for k, p in items])
            self.assertEqual(frames[1], (rf.KIND_ADD_REPLY, 6, struct.pack("<q", 4)))
        self.assertEqual(self.logged, [])

    def test_exactly_max_batch_payload_is_read_whole(self):
        length = rf.MAX_BATCH_PAYLOAD - 16  # one item filling the batch to its bound
        frame = batch_frame(8, [(0x09, bytes(length))])
        self.assertEqual(len(frame), 24 + rf.MAX_BATCH_PAYLOAD)
        status, out = run_loop(rf.serve_stream, frame + rf.encode_add_request(9, 1, 1))
        self.assertEqual(status, rf.STREAM_EOF)
        frames = split_frames(out)
        self.assertEqual(frames[0][:2], (rf.KIND_BATCH_REPLY, 8))
        [(kind, message)] = rf.parse_batch(frames[0][2])
        self.assertEqual((kind, bytes(message)), (rf.KIND_ERROR, b"unknown request kind in a batch item"))
        self.assertEqual(frames[1], (rf.KIND_ADD_REPLY, 9, struct.pack("<q", 2)))

    def test_too_long_for_its_kind_closes_before_reading(self):
        for kind, plen in ((rf.KIND_BATCH_REQUEST, rf.MAX_BATCH_PAYLOAD + 1),
                           (rf.KIND_BATCH_REPLY, rf.MAX_BATCH_PAYLOAD + 1),
                           (rf.KIND_SCORE_REQUEST, rf.MAX_PAYLOAD + 1),
                           (0x11, rf.MAX_PAYLOAD + 1)):
            for loop in (rf.serve_stream, rf.echo_stream):
                with self.subTest(kind=kind, loop=loop.__name__):
                    reads = []

                    def reader(mv):
                        reads.append(len(mv))
                        mv[:24] = header(kind, 77, plen)
                        return 24

                    out = []
                    self.assertEqual(loop(reader, lambda b: out.append(bytes(b))), rf.STREAM_CLOSED)
                    self.assertEqual(reads, [24])  # nothing past the header was asked for
                    [(k, id, message)] = split_frames(b"".join(out))
                    self.assertEqual((k, id), (rf.KIND_ERROR, 77))
                    self.assertIn(str(rf.max_payload(kind)).encode(), message)

    def test_a_batch_reply_frame_is_not_a_request(self):
        """Read whole (its kind allows 16 MiB), refused, and the stream goes on."""
        payload = batch_frame(0, [(rf.KIND_ADD_REPLY, bytes(8))] * 70000)[24:]
        self.assertGreater(len(payload), rf.MAX_PAYLOAD)
        frame = header(rf.KIND_BATCH_REPLY, 12, len(payload)) + payload
        status, out = run_loop(rf.serve_stream, frame + rf.encode_add_request(13, 1, 1))
        self.assertEqual(status, rf.STREAM_EOF)
        frames = split_frames(out)
        self.assertEqual([f[:2] for f in frames], [(rf.KIND_ERROR, 12), (rf.KIND_ADD_REPLY, 13)])

    def test_echo_sends_batch_frames_back_unchanged(self):
        small = batch_frame(1, self.mixed_items())
        big = batch_frame(2, [request_item({"add": [i, i]}) for i in range(60000)])  # 1.44 MB
        self.assertGreater(len(big) - 24, rf.MAX_PAYLOAD)
        frames = small + big + rf.encode_add_request(3, 1, 1)
        for step in (None, 4096):
            with self.subTest(step=step):
                self.assertEqual(run_loop(rf.echo_stream, frames, step), (rf.STREAM_EOF, frames))
        self.assertEqual(self.logged, [])

    def test_answer_frame_batches_and_the_reply_slot(self):
        """answer_frame (shm): a batch answered into the reply slot, a reply
        that does not fit it refused with one error frame, a frame longer than
        its request slot refused."""
        items = self.mixed_items()
        frame = batch_frame(21, items)
        status, stream_out = run_loop(rf.serve_stream, frame)
        out = bytearray(4096)
        n = rf.answer_frame(memoryview(bytearray(frame) + bytes(100)), memoryview(out))
        self.assertEqual(bytes(out[:n]), stream_out)  # the same bytes as on a stream
        # 200 wrong items need about 60 bytes each: past a 4096-byte reply slot.
        frame = batch_frame(22, [(rf.KIND_ADD_REQUEST, bytes(8))] * 200)
        n = rf.answer_frame(memoryview(bytearray(frame)), memoryview(out))
        self.assertEqual(split_frames(bytes(out[:n])), [(rf.KIND_ERROR, 22, rf.NO_ROOM.encode())])
        # A request frame longer than its slot, and one longer than its kind allows.
        frame = batch_frame(23, [request_item({"add": [1, 2]})] * 10)
        n = rf.answer_frame(memoryview(bytearray(frame)[:-8]), memoryview(out))
        self.assertEqual(split_frames(bytes(out[:n]))[0][:2], (rf.KIND_ERROR, 23))
        slot = bytearray(header(rf.KIND_BATCH_REQUEST, 24, rf.MAX_BATCH_PAYLOAD + 1)) + bytes(64)
        n = rf.answer_frame(memoryview(slot), memoryview(out))
        self.assertEqual(split_frames(bytes(out[:n]))[0][:2], (rf.KIND_ERROR, 24))
        # A batch past MAX_PAYLOAD that fits its slot is answered.
        items = [request_item({"add": [i, 1]}) for i in range(50000)]
        frame = batch_frame(25, items)
        out = bytearray(32 + 16 * len(items))
        n = rf.answer_frame(memoryview(bytearray(frame)), memoryview(out))
        self.assertEqual(n, len(out))
        answers = rf.parse_batch(memoryview(out)[24:n])
        self.assertEqual([rf.parse_add_reply(p) for _, p in answers], [i + 1 for i in range(50000)])


def load_big_vectors():
    import json
    path = PEER_DIR.parent.parent / "schemas" / "test_vectors.json"
    with open(path, encoding="utf-8") as f:
        return [v for v in json.load(f)["score"]
                if isinstance(v["features"], dict) and v["features"]["ramp"] >= 4096]


if __name__ == "__main__":
    unittest.main()
