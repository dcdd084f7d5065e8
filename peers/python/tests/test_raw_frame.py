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

    def test_readers_keep_max_payload_for_batch_frames_too(self):
        self.assertEqual(rf.decode_header(header(rf.KIND_BATCH_REQUEST, 1, rf.MAX_PAYLOAD))[2], rf.MAX_PAYLOAD)
        with self.assertRaises(rf.FrameError):
            rf.decode_header(header(rf.KIND_BATCH_REQUEST, 1, rf.MAX_PAYLOAD + 1))

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


def load_big_vectors():
    import json
    path = PEER_DIR.parent.parent / "schemas" / "test_vectors.json"
    with open(path, encoding="utf-8") as f:
        return [v for v in json.load(f)["score"]
                if isinstance(v["features"], dict) and v["features"]["ramp"] >= 4096]


if __name__ == "__main__":
    unittest.main()
