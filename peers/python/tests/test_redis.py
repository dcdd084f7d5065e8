"""The real peer over `redis` and `redis-stream`, against a private redis-server
(Unix socket only, no persistence) started for each test class."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

PEER_DIR = Path(__file__).resolve().parent.parent
for _dir in (PEER_DIR, PEER_DIR / "tests"):
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))

import workload  # noqa: E402
from test_peer import RAMP_256_HEX, TIMEOUT, PeerTestCase, echo_requests  # noqa: E402

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
try:
    import redis
    MISSING = None if os.access(REDIS_SERVER, os.X_OK) else "redis-server is not installed"
except ImportError:
    MISSING = "redis-py is not installed"


class RedisServer:
    """redis-server in a private dir, listening on DIR/redis.sock only."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="pypeer-redis-")
        self.socket = os.path.join(self.dir, "redis.sock")
        self.url = "unix://" + self.socket
        self.log = open(os.path.join(self.dir, "redis.log"), "wb")
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", "0", "--unixsocket", self.socket, "--unixsocketperm", "700",
             "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, process_group=0)
        try:
            self.client = redis.Redis(unix_socket_path=self.socket, socket_timeout=TIMEOUT)
            deadline = time.monotonic() + TIMEOUT
            while True:
                # Connect only once the socket exists (a failed connect leaks
                # a socket in redis-py 4.3), then until PING is answered.
                try:
                    if os.path.exists(self.socket) and self.client.ping():
                        break
                except redis.ConnectionError:
                    pass
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("redis-server did not answer PING in time")
                time.sleep(0.02)
        except BaseException:
            self.stop()
            raise

    def stop(self):
        if hasattr(self, "client"):
            self.client.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=TIMEOUT)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisCase:
    """Mixed into a PeerTestCase: one redis-server for the class, a fresh key
    prefix and peer (started with `options`) per test. Subclasses set
    `transport` and define send()."""
    options = ()

    @classmethod
    def setUpClass(cls):
        cls.server = RedisServer()
        cls.addClassCleanup(cls.server.stop)
        cls.r = cls.server.client

    def setUp(self):
        super().setUp()
        self.prefix = f"interop:test{os.getpid()}:{self.id().rsplit('.', 1)[-1]}"
        self.reply_to = self.prefix + ":reply:1"
        self.addCleanup(self.delete_keys)
        self.proc = self.start(self.transport, f"{self.server.url}#{self.prefix}", *self.options)
        self.assertEqual(self.proc.ready_address, f"{self.server.url}#{self.prefix}")

    def delete_keys(self):
        keys = self.r.keys("*")
        if keys:
            self.r.delete(*keys)

    def request(self, id, op, reply_to=None, **fields):
        return json.dumps({"id": id, "op": op, "reply_to": reply_to or self.reply_to, **fields})

    def reply(self):
        item = self.r.brpop(self.reply_to, timeout=TIMEOUT)
        self.assertIsNotNone(item, "no reply within the timeout")
        return json.loads(item[1])

    def call(self, id, op, **fields):
        self.send(self.request(id, op, **fields))
        return self.reply()

    def assert_keys_under_prefix(self):
        for key in self.r.keys("*"):
            self.assertTrue(key.decode().startswith(self.prefix), key)


class RedisTests(RedisCase):
    def test_add_and_score(self):
        self.assertEqual(self.call(1, "add", x=2**63 - 1, y=1), {"id": 1, "result": -2**63})
        reply = self.call(2, "score", features=workload.ramp_features(256), model="modèle-ü")
        self.assertEqual((reply["id"], reply["label"]), (2, "fraud"))
        self.assertEqual(__import__("struct").pack(">d", reply["score"]).hex(), RAMP_256_HEX)
        for i in range(20):
            self.assertEqual(self.call(10 + i, "add", x=i, y=1), {"id": 10 + i, "result": i + 1})
        self.assert_keys_under_prefix()

    def test_garbage_then_valid(self):
        outside = f"other{os.getpid()}:reply"
        self.send("not json at all")  # no reply_to to read: dropped
        self.send(json.dumps([1, 2, 3]))
        self.send(json.dumps({"id": 3, "op": "add", "x": 1, "y": 2}))  # no reply_to
        self.send(self.request(4, "add", reply_to=outside, x=1, y=2))  # outside the prefix
        self.assertEqual(self.call(5, "add", x="a", y=1)["id"], 5)  # error reply
        reply = self.call(6, "mul", x=1, y=1)
        self.assertEqual(set(reply), {"id", "error"})
        reply = self.call(7, "score", features=[0.5] * 131073, model="m")
        self.assertIn("131072", reply["error"])
        self.send(json.dumps({"id": "x", "op": "add", "reply_to": self.reply_to}))
        self.assertEqual(self.reply(), {"id": None, "error": "id must be an integer within uint64"})
        self.assertEqual(self.call(8, "add", x=2, y=3), {"id": 8, "result": 5})
        self.assertEqual(self.r.exists(outside), 0)
        self.assertEqual(self.r.llen(self.reply_to), 0)
        self.assertIsNone(self.proc.poll())
        self.assert_keys_under_prefix()

    def test_sigterm_exits_zero(self):
        self.call(1, "add", x=1, y=1)
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(self.proc), 0)
        self.assertLess(time.monotonic() - started, 3.0)
        self.assertEqual(self.remaining_stdout(self.proc), b"")
        self.assertNotIn("Traceback", self.stderr_of(self.proc))


class RedisEchoTests(RedisCase):
    """--echo: every request is pushed back unchanged to PREFIX:echo."""
    options = ("--echo",)

    def echoed(self):
        item = self.r.brpop(self.prefix + ":echo", timeout=TIMEOUT)
        self.assertIsNotNone(item, "no echo within the timeout")
        return item[1]

    def test_requests_come_back_unchanged(self):
        requests = echo_requests(op=True, reply_to=self.reply_to)
        requests.append(b"\xff not JSON, and no reply_to")  # nothing is decoded
        for data in requests:
            self.send(data)
            self.assertEqual(self.echoed(), data)
        self.assertEqual(self.r.exists(self.reply_to), 0)  # the echo reads no reply_to
        self.assertIsNone(self.proc.poll())
        self.assert_keys_under_prefix()


class ListQueue:
    transport = "redis"

    def send(self, data):
        self.r.lpush(self.prefix + ":requests", data)


class StreamQueue:
    transport = "redis-stream"

    def send(self, data, field="req"):
        self.r.xadd(self.prefix + ":stream", {field: data}, maxlen=10000, approximate=True)

    def check_acknowledged_and_deleted(self):
        stream = self.prefix + ":stream"
        deadline = time.monotonic() + TIMEOUT
        while self.r.xlen(stream) or self.r.xpending(stream, "workers")["pending"]:
            self.assertLess(time.monotonic(), deadline, "entries left in the stream")
            time.sleep(0.01)
        groups = self.r.xinfo_groups(stream)
        self.assertEqual([g["name"] for g in groups], [b"workers"])


@unittest.skipIf(MISSING, MISSING)
class RedisListPeerTest(ListQueue, RedisTests, PeerTestCase):
    pass


@unittest.skipIf(MISSING, MISSING)
class RedisStreamPeerTest(StreamQueue, RedisTests, PeerTestCase):
    def test_entries_acknowledged_and_deleted(self):
        self.send("whatever", field="other")  # no req field: dropped
        self.assertEqual(self.call(1, "add", x=1, y=2), {"id": 1, "result": 3})
        self.check_acknowledged_and_deleted()

    def test_existing_group_is_fine(self):
        second = self.start(self.transport, f"{self.server.url}#{self.prefix}")  # BUSYGROUP
        self.assertIsNone(second.poll())
        self.assertEqual(self.call(1, "add", x=1, y=2), {"id": 1, "result": 3})


@unittest.skipIf(MISSING, MISSING)
class RedisListEchoPeerTest(ListQueue, RedisEchoTests, PeerTestCase):
    pass


@unittest.skipIf(MISSING, MISSING)
class RedisStreamEchoPeerTest(StreamQueue, RedisEchoTests, PeerTestCase):
    def test_entries_acknowledged_and_deleted(self):
        self.send(b"whatever", field="other")  # no req field: logged, acknowledged
        data, _ = echo_requests(op=True, reply_to=self.reply_to)
        self.send(data)
        self.assertEqual(self.echoed(), data)
        self.check_acknowledged_and_deleted()
        self.assertIn("no field 'req'", self.stderr_of(self.proc))


@unittest.skipIf(MISSING, MISSING)
class RedisCommandLineTest(PeerTestCase):
    def test_bad_addresses(self):
        for transport in ("redis", "redis-stream"):
            for address, status in (("unix:///nowhere/redis.sock", 2),  # no #PREFIX
                                    ("http://x#p", 2),
                                    ("unix:///nowhere/redis.sock#", 2),
                                    (f"unix://{self.tmp}/none.sock#p", 1)):
                with self.subTest(transport=transport, address=address):
                    proc = self.start(transport, address, wait_ready=False)
                    self.assertEqual(self.wait_exit(proc), status)


if __name__ == "__main__":
    unittest.main()
