"""The real peer over `redis`, `redis-stream` and `file` with each --codec
(json_transports.md, "Other codecs on Redis and files"): a value or file is
one message of the codec, alone; raw and protobuf replies go to the list
PREFIX:replies (they carry no reply_to) or to rep-ID.raw / rep-ID.pb. Every
vector of schemas/test_vectors.json's `codecs` (a batch among them) is sent,
and its reply compared bit for bit with the C++ peer's (raw, protobuf) or by
value (JSON); then bad messages, calls in flight, and --echo."""

import json
import os
import sys
import time
import unittest
from pathlib import Path

PEER_DIR = Path(__file__).resolve().parent.parent
for _dir in (PEER_DIR, PEER_DIR / "tests"):
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))

from codec_vectors import (PB_MISSING, from_json, from_protobuf, from_raw, json_request, load, matches,  # noqa: E402
                           pb, pb_error, request_forms, want)
import raw_frame as rf  # noqa: E402
from test_file import FileCase  # noqa: E402
from test_peer import TIMEOUT, PeerTestCase, header  # noqa: E402
from test_redis import MISSING as REDIS_MISSING, ListQueue, RedisCase, StreamQueue  # noqa: E402

EXT = {"json": "json", "raw": "raw", "protobuf": "pb"}


class CodecMessages:
    """What a codec's requests and replies are, for a case that sets `codec`."""
    codec = None

    def skip_without_protobuf(self):
        if self.codec == "protobuf" and PB_MISSING:
            self.skipTest(PB_MISSING)

    def vector_request(self, v, **json_extra) -> bytes:
        forms = request_forms(v)
        if self.codec == "json":
            return json_request(v["request"], **json_extra)
        return forms[self.codec]

    def check_vector_reply(self, v, reply: bytes):
        if self.codec == "json":
            self.assertEqual(from_json(reply), (v["request"]["id"], want(v)), v["name"])
        else:
            self.assertTrue(matches(v, "reply_" + self.codec, reply), (v["name"], reply[:64].hex()))
            decode = from_raw if self.codec == "raw" else from_protobuf
            self.assertEqual(decode(reply), (v["request"]["id"], want(v)), v["name"])

    def add_request(self, id, x, y, **json_extra) -> bytes:
        if self.codec == "raw":
            return rf.encode_add_request(id, x, y)
        if self.codec == "protobuf":
            return pb.Request(add=pb.AddRequest(id=id, x=x, y=y)).SerializeToString()
        return json.dumps({"id": id, "op": "add", "x": x, "y": y, **json_extra}).encode()

    def decoded(self, reply: bytes):
        return {"raw": from_raw, "json": from_json, "protobuf": from_protobuf}[self.codec](reply)

    def error_id(self, reply: bytes):
        """The id of an error reply of the codec (fails on any other reply)."""
        if self.codec == "raw":
            kind, id, _ = rf.decode_header(reply)
            self.assertEqual(kind, rf.KIND_ERROR)
            return id
        if self.codec == "protobuf":
            return pb_error(reply)[0]
        msg = json.loads(reply)
        self.assertEqual(sorted(msg), ["error", "id"])
        return msg["id"]


# ---------------------------------------------------------------- Redis

class RedisCodecTests(CodecMessages, RedisCase):
    options_extra = ()

    def setUp(self):
        self.skip_without_protobuf()
        self.options = (f"--codec={self.codec}", *self.options_extra)
        super().setUp()
        self.replies_key = self.reply_to if self.codec == "json" else self.prefix + ":replies"

    def next_reply(self) -> bytes:
        item = self.r.brpop(self.replies_key, timeout=TIMEOUT)
        self.assertIsNotNone(item, f"no reply on {self.replies_key} within the timeout")
        return item[1]

    def roundtrip(self, data) -> bytes:
        self.send(data)
        return self.next_reply()

    def test_every_vector_bit_for_bit(self):
        for v in load():
            with self.subTest(v["name"]):
                self.check_vector_reply(v, self.roundtrip(self.vector_request(v, reply_to=self.reply_to)))
        self.assertEqual(self.r.llen(self.replies_key), 0)
        self.assert_keys_under_prefix()

    def test_bad_messages_then_a_good_one(self):
        self.send_bad_messages()
        self.assertEqual(self.decoded(self.roundtrip(self.add_request(50, 2, 3, reply_to=self.reply_to))),
                         (50, {"add": 5}))
        self.assertEqual(self.r.llen(self.replies_key), 0)  # nothing for what was dropped
        self.assertIsNone(self.proc.poll())
        self.assertNotIn("Traceback", self.stderr_of(self.proc))
        self.assert_keys_under_prefix()


class RedisRawTests(RedisCodecTests):
    codec = "raw"

    def send_bad_messages(self):
        self.send(b"short")  # no header, no id: dropped, logged
        self.send(rf.encode_add_request(1, 1, 1).replace(b"ISPF", b"XSPF"))  # bad magic: dropped
        frame = rf.encode_add_request(2, 1, 1)
        self.assertEqual(self.error_id(self.roundtrip(frame + b"\0")), 2)  # bytes after the frame
        self.assertEqual(self.error_id(self.roundtrip(header(0x09, 3, 0))), 3)  # unknown kind
        self.assertEqual(self.error_id(self.roundtrip(header(rf.KIND_BATCH_REQUEST, 4, 8) + bytes(8))), 4)
        # A batch with a wrong item: the other items are answered.
        batch = rf.encode_batch(rf.KIND_BATCH_REQUEST, 5, [(rf.KIND_ADD_REQUEST, bytes(16)),
                                                           (rf.KIND_ADD_REQUEST, bytes(8))])
        self.assertEqual(from_raw(self.roundtrip(batch)), (5, {"items": [{"add": 0}, {"error": True}]}))
        # A JSON frame in a raw value is answered as on a stream.
        body = b'{"id":6,"op":"add","x":1}'
        reply = self.roundtrip(rf.encode_header(rf.KIND_JSON_REQUEST, 6, len(body)) + body)
        kind, id, _ = rf.decode_header(reply)
        self.assertEqual((kind, id, json.loads(reply[24:])["id"]), (rf.KIND_JSON_REPLY, 6, 6))
        stderr = self.stderr_of(self.proc)
        self.assertIn("shorter than a 24-byte frame header", stderr)
        self.assertIn("bad magic or version", stderr)


class RedisProtobufTests(RedisCodecTests):
    codec = "protobuf"

    def send_bad_messages(self):
        self.send(b"\xff\xff\xff")  # not a Request, no id: dropped
        self.send(b"")  # a Request with no op, no id: dropped
        too_many = pb.Request(score=pb.ScoreRequest(id=2, features=[0.5] * 131073, model="m"))
        reply = self.roundtrip(too_many.SerializeToString())
        self.assertEqual(pb_error(reply)[0], 2)
        self.assertIn("131072", pb_error(reply)[1])
        empty_batch = pb.Request(batch=pb.BatchRequest(id=3))
        self.assertEqual(self.error_id(self.roundtrip(empty_batch.SerializeToString())), 3)
        batch = pb.Request(batch=pb.BatchRequest(id=4, items=[
            pb.Request(add=pb.AddRequest(x=1, y=2)), pb.Request(),
            pb.Request(score=pb.ScoreRequest(model="m" * 1025))]))
        self.assertEqual(from_protobuf(self.roundtrip(batch.SerializeToString())),
                         (4, {"items": [{"add": 3}, {"error": True}, {"error": True}]}))
        stderr = self.stderr_of(self.proc)
        self.assertIn("not a protobuf interop.v1.Request", stderr)
        self.assertIn("neither add nor score nor batch", stderr)


class RedisJsonTests(RedisCodecTests):
    codec = "json"

    def send_bad_messages(self):
        self.send(b"\xff not JSON")  # no reply_to to read: dropped
        self.assertEqual(self.error_id(self.roundtrip(self.request(2, "add", x="a", y=1))), 2)
        self.assertEqual(self.error_id(self.roundtrip(self.request(3, "batch", items=[]))), 3)
        reply = self.roundtrip(self.request(4, "batch", items=[{"op": "add", "x": 1, "y": 2}, {"op": "mul"}]))
        self.assertEqual(from_json(reply), (4, {"items": [{"add": 3}, {"error": True}]}))


class InFlight:
    """--inflight=K: requests queued together are popped together (BLMPOP
    or XREADGROUP COUNT K), every one answered."""
    options_extra = ("--inflight=8",)

    def test_calls_in_flight(self):
        pipe = self.r.pipeline(transaction=False)
        for i in range(50):
            data = self.add_request(100 + i, i, 1, reply_to=self.reply_to)
            if self.transport == "redis":
                pipe.lpush(self.prefix + ":requests", data)
            else:
                pipe.xadd(self.prefix + ":stream", {"req": data})
        pipe.execute()
        got = sorted(self.decoded(self.next_reply()) for _ in range(50))
        self.assertEqual(got, [(100 + i, {"add": i + 1}) for i in range(50)])


class RedisEchoCodecTests(CodecMessages, RedisCase):
    def setUp(self):
        self.options = ("--echo", f"--codec={self.codec}")
        super().setUp()

    def test_messages_come_back_unread(self):
        for data in (rf.encode_add_request(1, 2, 3), b"\xff\x00 anything", b""):
            self.send(data)
            item = self.r.brpop(self.prefix + ":echo", timeout=TIMEOUT)
            self.assertEqual(item[1] if item else None, data)
        self.assertEqual(self.r.exists(self.prefix + ":replies"), 0)


def _redis_classes():
    made = {}
    for queue, qname in ((ListQueue, "List"), (StreamQueue, "Stream")):
        for base in (RedisRawTests, RedisProtobufTests, RedisJsonTests):
            cname = f"Redis{qname}{base.codec.capitalize()}CodecTest"
            made[cname] = unittest.skipIf(REDIS_MISSING, REDIS_MISSING)(
                type(cname, (queue, base, PeerTestCase), {}))
            iname = f"Redis{qname}{base.codec.capitalize()}InFlightTest"
            made[iname] = unittest.skipIf(REDIS_MISSING, REDIS_MISSING)(
                type(iname, (InFlight, queue, base, PeerTestCase), {}))
        for codec in ("raw", "protobuf"):
            ename = f"Redis{qname}{codec.capitalize()}EchoTest"
            made[ename] = unittest.skipIf(REDIS_MISSING, REDIS_MISSING)(
                type(ename, (queue, RedisEchoCodecTests, PeerTestCase), {"codec": codec}))
    return made


# One TestCase per queue and codec (and with calls in flight, and --echo);
# the mixins themselves are not TestCases, so only these run.
globals().update(_redis_classes())


# ---------------------------------------------------------------- files

class CodecFileCase(CodecMessages, FileCase):
    """FileCase with req-ID.EXT / rep-ID.EXT for the codec's EXT."""
    suffix = ""
    transport = "file-inotify"

    def setUp(self):
        self.skip_without_protobuf()
        self.ext = EXT[self.codec]
        self.options = (*self.options, f"--codec={self.codec}")
        super().setUp()

    def put(self, name_id, content, ext=None):
        tmp = os.path.join(self.dir, f".req-{name_id}.{ext or self.ext}.tmp")
        with open(tmp, "wb") as f:
            f.write(content)
            inode = os.fstat(f.fileno()).st_ino
        os.rename(tmp, os.path.join(self.dir, f"req-{name_id}.{ext or self.ext}"))
        return inode

    def take_bytes(self, name_id):
        path = os.path.join(self.dir, f"rep-{name_id}.{self.ext}")
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                with open(path, "rb") as f:
                    data = f.read()
                    inode = os.fstat(f.fileno()).st_ino
                os.unlink(path)
                return data, inode
            except FileNotFoundError:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.fail(f"no rep-{name_id}.{self.ext} within {TIMEOUT}s; dir: {os.listdir(self.dir)}")
                self.watcher.drain(min(left, 0.05))

    def roundtrip(self, name_id, content) -> bytes:
        self.put(name_id, content)
        return self.take_bytes(name_id)[0]


class FileCodecTests(CodecFileCase):
    def test_every_vector_bit_for_bit(self):
        self.start_peer()
        for v in load():
            with self.subTest(v["name"]):
                self.check_vector_reply(v, self.roundtrip(v["request"]["id"], self.vector_request(v)))
        self.assertEqual(os.listdir(self.dir), [])
        self.check_names()

    def test_bad_messages_get_an_error_with_the_names_id(self):
        self.start_peer()
        for i, data in enumerate((b"", b"garbage", b"\xff" * 100, b"\0" * 40), start=1):
            with self.subTest(data=data[:8]):
                self.assertEqual(self.error_id(self.roundtrip(i, data)), i)
        # Names of the other codecs are not this row's: left alone.
        others = [e for c, e in EXT.items() if c != self.codec]
        for ext in others:
            self.put(9, b"whatever", ext=ext)
        self.assertEqual(self.decoded(self.roundtrip(10, self.add_request(10, 2, 3))), (10, {"add": 5}))
        self.assertEqual(sorted(os.listdir(self.dir)), sorted(f"req-9.{e}" for e in others))
        self.assertNotIn("Traceback", self.stderr_of(self.proc_))

    def start_peer(self):
        self.proc_ = super().start_peer()
        return self.proc_


class FileRawCodecTest(FileCodecTests, PeerTestCase):
    codec = "raw"

    def test_the_frames_own_id_when_it_has_a_header(self):
        self.start_peer()
        frame = rf.encode_add_request(77, 1, 2)
        self.assertEqual(self.error_id(self.roundtrip(1, frame + b"\0")), 77)
        self.assertEqual(self.decoded(self.roundtrip(2, frame)), (77, {"add": 3}))


class FileProtobufCodecTest(FileCodecTests, PeerTestCase):
    codec = "protobuf"


class FileJsonCodecTest(FileCodecTests, PeerTestCase):
    codec = "json"


class FilePollProtobufCodecTest(FileCodecTests, PeerTestCase):
    codec = "protobuf"
    transport = "file-poll"
    suffix = "?wait=poll"


class FileEchoCodecTest(CodecFileCase, PeerTestCase):
    codec = "raw"
    options = ("--echo",)

    def test_files_are_renamed_unread(self):
        for codec in ("raw", "protobuf"):
            with self.subTest(codec=codec):
                self.codec, self.ext = codec, EXT[codec]
                self.options = ("--echo", f"--codec={codec}")
                proc = self.start_peer()
                for i, data in enumerate((rf.encode_add_request(1, 2, 3), b"\xff anything"), start=1):
                    inode = self.put(i, data)
                    self.assertEqual(self.take_bytes(i), (data, inode))
                proc.kill()
                proc.wait(TIMEOUT)


if __name__ == "__main__":
    unittest.main()
