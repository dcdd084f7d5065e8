"""The real peer over `file`, inotify and poll modes; the test plays the
harness: write .req-ID.json.tmp, rename to req-ID.json, wait for rep-ID.json."""

import ctypes
import json
import os
import select
import signal
import struct
import sys
import time
import unittest
from pathlib import Path

PEER_DIR = Path(__file__).resolve().parent.parent
for _dir in (PEER_DIR, PEER_DIR / "tests"):
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))

import workload  # noqa: E402
from test_peer import RAMP_256_HEX, TIMEOUT, PeerTestCase, echo_requests  # noqa: E402

IN_CREATE, IN_MOVED_TO = 0x100, 0x80
_libc = ctypes.CDLL(None, use_errno=True)


class Watcher:
    """Every name created in or renamed into a directory, in order."""

    def __init__(self, directory):
        self.fd = _libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        if self.fd < 0 or _libc.inotify_add_watch(self.fd, os.fsencode(directory),
                                                  IN_CREATE | IN_MOVED_TO) < 0:
            raise OSError(ctypes.get_errno(), "inotify")
        self.events = []

    def drain(self, wait=0.0):
        if select.select([self.fd], [], [], wait)[0]:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return
            pos = 0
            while pos < len(data):
                _, mask, _, length = struct.unpack_from("iIII", data, pos)
                name = data[pos + 16:pos + 16 + length].rstrip(b"\0").decode()
                self.events.append(("create" if mask & IN_CREATE else "moved", name))
                pos += 16 + length

    def close(self):
        os.close(self.fd)


class FileCase:
    """Mixed into a PeerTestCase; subclasses set `transport` and `suffix`
    ('' or '?wait=poll'), and `options` for the peer."""
    options = ()

    def setUp(self):
        super().setUp()
        self.dir = os.path.join(self.tmp, "handoff")
        os.mkdir(self.dir, 0o700)
        self.watcher = Watcher(self.dir)
        self.addCleanup(self.watcher.close)

    def start_peer(self):
        proc = self.start(self.transport, self.dir + self.suffix, *self.options)
        self.assertEqual(proc.ready_address, self.dir + self.suffix)
        return proc

    def put(self, name_id, content):
        """Writes req-ID.json (by rename); returns its inode number."""
        data = content if isinstance(content, bytes) else json.dumps(content).encode()
        tmp = os.path.join(self.dir, f".req-{name_id}.json.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            inode = os.fstat(f.fileno()).st_ino
        os.rename(tmp, os.path.join(self.dir, f"req-{name_id}.json"))
        return inode

    def take(self, name_id):
        """The reply in rep-ID.json (removed once read), decoded."""
        return json.loads(self.take_bytes(name_id)[0])

    def take_bytes(self, name_id):
        """(bytes, inode number) of rep-ID.json (removed once read), waiting
        up to TIMEOUT."""
        path = os.path.join(self.dir, f"rep-{name_id}.json")
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
                    self.fail(f"no rep-{name_id}.json within {TIMEOUT}s; "
                              f"dir: {os.listdir(self.dir)}")
                self.watcher.drain(min(left, 0.05))

    def call(self, id, content):
        self.put(id, content)
        return self.take(id)

    def check_names(self):
        """Nothing was ever created under a req-/rep- name: those only appear
        by rename, so no reader can see a half-written file."""
        self.watcher.drain()
        self.assertTrue(self.watcher.events)
        replies = 0
        for what, name in self.watcher.events:
            if what == "create":
                self.assertFalse(name.startswith(("req-", "rep-")), name)
            elif name.startswith("rep-"):
                replies += 1
        self.assertGreater(replies, 0)


class FileTests(FileCase):
    def test_round_trips(self):
        self.put(100, {"id": 100, "op": "add", "x": 1, "y": 2})  # there before the peer
        self.start_peer()
        self.assertEqual(self.take(100), {"id": 100, "result": 3})
        self.assertEqual(self.call(1, {"id": 1, "op": "add", "x": 2**63 - 1, "y": 1}),
                         {"id": 1, "result": -2**63})
        reply = self.call(2, {"id": 2, "op": "score", "features": workload.ramp_features(256),
                              "model": "modèle-ü"})
        self.assertEqual((reply["id"], reply["label"]), (2, "fraud"))
        self.assertEqual(struct.pack(">d", reply["score"]).hex(), RAMP_256_HEX)
        for i in range(30):
            self.assertEqual(self.call(10 + i, {"id": 10 + i, "op": "add", "x": i, "y": i}),
                             {"id": 10 + i, "result": 2 * i})
        self.assertEqual(os.listdir(self.dir), [])
        self.check_names()

    def test_garbage(self):
        self.start_peer()
        reply = self.call(5, b"garbage")
        self.assertEqual((reply["id"], set(reply)), (5, {"id", "error"}))
        reply = self.call(6, {"id": 6, "op": "add", "x": "a", "y": 1})
        self.assertEqual((reply["id"], set(reply)), (6, {"id", "error"}))
        reply = self.call(7, b"\xff" * 100)
        self.assertEqual(reply["id"], 7)
        self.put("abc", b"no id in this name")  # removed and logged
        with open(os.path.join(self.dir, "notes.txt"), "w") as f:  # not ours: left alone
            f.write("x")
        self.assertEqual(self.call(8, {"id": 8, "op": "add", "x": 2, "y": 3}),
                         {"id": 8, "result": 5})
        deadline = time.monotonic() + TIMEOUT
        while os.path.exists(os.path.join(self.dir, "req-abc.json")):
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)
        self.assertEqual(os.listdir(self.dir), ["notes.txt"])
        self.check_names()

    def test_sigterm_exits_zero(self):
        proc = self.start_peer()
        self.call(1, {"id": 1, "op": "add", "x": 1, "y": 1})
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(proc), 0)
        self.assertEqual(self.remaining_stdout(proc), b"")
        self.assertNotIn("Traceback", self.stderr_of(proc))


class FileEchoTests(FileCase):
    """--echo: each req-ID.json is renamed to rep-ID.json, the same file."""
    options = ("--echo",)

    def check_echo(self, id, data):
        inode = self.put(id, data)
        self.assertEqual(self.take_bytes(id), (data, inode))

    def test_requests_come_back_unchanged(self):
        add, score = echo_requests(op=True)
        inode = self.put(100, add)  # there before the peer: found by listing
        self.start_peer()
        self.assertEqual(self.take_bytes(100), (add, inode))
        self.check_echo(1, add)
        self.check_echo(2, score)
        self.check_echo(3, b"\xff not JSON")  # nothing is read
        self.put("abc", b"no id in this name")  # removed and logged, as without --echo
        with open(os.path.join(self.dir, "notes.txt"), "w") as f:  # not ours: left alone
            f.write("x")
        self.check_echo(4, add)
        deadline = time.monotonic() + TIMEOUT
        while os.path.exists(os.path.join(self.dir, "req-abc.json")):
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.01)
        self.assertEqual(os.listdir(self.dir), ["notes.txt"])
        self.check_names()


class FileInotifyPeerTest(FileTests, PeerTestCase):
    transport = "file-inotify"  # bench's name for the row
    suffix = ""


class FilePollPeerTest(FileTests, PeerTestCase):
    transport = "file-poll"
    suffix = "?wait=poll"

    def test_plain_name_with_poll_address(self):
        self.transport = "file"  # the address, not the name, sets the mode
        self.start_peer()
        self.assertEqual(self.call(3, {"id": 3, "op": "add", "x": 1, "y": 2}),
                         {"id": 3, "result": 3})


class FileInotifyEchoPeerTest(FileEchoTests, PeerTestCase):
    transport = "file-inotify"
    suffix = ""


class FilePollEchoPeerTest(FileEchoTests, PeerTestCase):
    transport = "file-poll"
    suffix = "?wait=poll"


class FileCommandLineTest(PeerTestCase):
    def test_bad_addresses(self):
        for address, status in ((f"{self.tmp}?wait=sometimes", 2), (f"{self.tmp}?x=1", 2),
                                (f"{self.tmp}/absent", 1), (f"{self.tmp}/absent?wait=poll", 1)):
            with self.subTest(address=address):
                proc = self.start("file", address, wait_ready=False)
                self.assertEqual(self.wait_exit(proc), status)


if __name__ == "__main__":
    unittest.main()
