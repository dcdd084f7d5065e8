"""The real peer (peer.py) as a subprocess, over unix, tcp and pipe.

Every wait has a timeout; every test kills and reaps its peer and removes its
temp dir, whatever happens.
"""

import json
import os
import select
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

PEER_DIR = Path(__file__).resolve().parent.parent
if str(PEER_DIR) not in sys.path:
    sys.path.insert(0, str(PEER_DIR))

import raw_frame as rf  # noqa: E402
import workload  # noqa: E402

PYTHON = "/usr/bin/python3"  # Debian's, never the python3 on PATH
PEER = str(PEER_DIR / "peer.py")
TIMEOUT = 10.0  # seconds, for every single wait

RAMP_256_HEX = "3fe376dba491b1ac"  # schemas/test_vectors.json, "ramp 256, non-ASCII model"


def header(kind, id, payload_len, magic=rf.MAGIC, version=rf.VERSION):
    return struct.pack("<IBBHQII", magic, version, kind, 0, id, payload_len, 0)


def harness_json(message) -> bytes:
    """A JSON request as the harness writes it: compact, UTF-8 (no \\u escapes)."""
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode()


def echo_requests(op=False, **extra) -> "list[bytes]":
    """The JSON requests of the echo tests, an add and a score of 256 features:
    with an "op" field if `op` (redis, file; over REST the path says it) and
    the fields in `extra` last (reply_to)."""
    add, score = ({"op": "add"}, {"op": "score"}) if op else ({}, {})
    return [harness_json({"id": 1, **add, "x": 2**63 - 1, "y": 1, **extra}),
            harness_json({"id": 2, **score, "features": workload.ramp_features(256),
                          "model": "modèle-ü", **extra})]


class SocketConn:
    def __init__(self, family, address):
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        self.sock.connect(address)

    def send(self, data):
        self.sock.sendall(data)

    def recv_exact(self, n):
        """n bytes, or fewer if the peer closed the connection."""
        chunks, got = [], 0
        while got < n:
            chunk = self.sock.recv(n - got)  # socket.timeout after TIMEOUT
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def close(self):
        self.sock.close()


class PipeConn:
    def __init__(self, proc):
        self.proc = proc
        self.rfd = proc.stdout.fileno()
        self.wfd = proc.stdin.fileno()

    def send(self, data):
        view = memoryview(data)
        while view:
            view = view[os.write(self.wfd, view):]

    def recv_exact(self, n):
        chunks, got = [], 0
        deadline = time.monotonic() + TIMEOUT
        while got < n:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.rfd], [], [], left)[0]:
                raise TimeoutError(f"no reply from the pipe peer within {TIMEOUT}s")
            chunk = os.read(self.rfd, n - got)
            if not chunk:
                break
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def close(self):
        pass


def read_frame(conn):
    """(kind, id, payload), or None if the peer closed before a new frame."""
    head = conn.recv_exact(24)
    if not head:
        return None
    if len(head) != 24:
        raise AssertionError(f"connection closed inside a reply header ({len(head)} bytes)")
    kind, id, plen = rf.decode_header(head)
    payload = conn.recv_exact(plen)
    if len(payload) != plen:
        raise AssertionError("connection closed inside a reply payload")
    return kind, id, payload


class PeerTestCase(unittest.TestCase):
    """Starts peers and cleans up after them."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="pypeer-")
        self.addCleanup(shutil.rmtree, self.tmp, True)

    def start(self, transport, address=None, *extra, wait_ready=True, env=None):
        args = [PYTHON, PEER, f"--transport={transport}", *extra]
        if address is not None:
            args.append(f"--address={address}")
        stderr = open(os.path.join(self.tmp, f"stderr-{len(os.listdir(self.tmp))}"), "w+b")
        self.addCleanup(stderr.close)
        # Its own process group, so cleanup can kill whatever it started.
        proc = subprocess.Popen(args, cwd=self.tmp, bufsize=0, stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=stderr, process_group=0,
                                env=env)
        self.addCleanup(self._reap, proc)
        proc.stderr_file = stderr
        if wait_ready:
            proc.ready_address = self.wait_ready(proc)
        return proc

    @staticmethod
    def _reap(proc):
        if proc.poll() is None:  # not reaped yet: the group id is still ours
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=TIMEOUT)
        finally:
            proc.stdin.close()
            proc.stdout.close()

    def wait_ready(self, proc):
        """The address from the READY line; the line is read byte by byte so
        nothing after it (pipe frames) is consumed."""
        fd = proc.stdout.fileno()
        line = b""
        deadline = time.monotonic() + TIMEOUT
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                self.fail(f"no READY within {TIMEOUT}s; stderr: {self.stderr_of(proc)!r}")
            b = os.read(fd, 1)
            if not b:
                self.fail(f"peer exited before READY ({proc.wait(TIMEOUT)}); "
                          f"stderr: {self.stderr_of(proc)!r}")
            line += b
        self.assertTrue(line.startswith(b"READY "), line)
        return line[len(b"READY "):-1].decode()

    @staticmethod
    def stderr_of(proc):
        proc.stderr_file.seek(0)
        return proc.stderr_file.read().decode(errors="replace")

    def wait_exit(self, proc):
        try:
            return proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail(f"peer did not exit within {TIMEOUT}s")

    def remaining_stdout(self, proc):
        """What the peer wrote on stdout after READY (call once it has exited)."""
        return proc.stdout.read()

    # ---- requests

    def check_add_overflow(self, conn, id=1):
        conn.send(rf.encode_add_request(id, 2**63 - 1, 1))
        self.assertEqual(read_frame(conn), (rf.KIND_ADD_REPLY, id, struct.pack("<q", -2**63)))

    def check_add(self, conn, id, x=2, y=3):
        conn.send(rf.encode_add_request(id, x, y))
        self.assertEqual(read_frame(conn), (rf.KIND_ADD_REPLY, id, struct.pack("<q", x + y)))

    def check_score_ramp_256(self, conn, id=2):
        conn.send(rf.encode_score_request(id, workload.ramp_features(256), "modèle-ü"))
        kind, rid, payload = read_frame(conn)
        self.assertEqual((kind, rid), (rf.KIND_SCORE_REPLY, id), payload)
        s, label = rf.parse_score_reply(payload)
        self.assertEqual(struct.pack(">d", s).hex(), RAMP_256_HEX)
        self.assertEqual(label, "fraud")

    def expect_error(self, conn, id):
        kind, rid, payload = read_frame(conn)
        self.assertEqual((kind, rid), (rf.KIND_ERROR, id))
        self.assertTrue(0 < len(payload) <= rf.MAX_ERROR_BYTES)
        return payload.decode()

    def expect_closed(self, conn):
        self.assertIsNone(read_frame(conn))

    def check_batches(self, conn):
        """Batch frames on a real stream: one past MAX_PAYLOAD (the peer's
        buffer grows to it), one with a wrong item in the middle, one of the
        wrong shape (an error frame, and the stream goes on), then a single add."""
        big = 60000
        items = [(rf.KIND_ADD_REQUEST, rf.payload_of(rf.encode_add_request(0, i, 2**63 - 1))) for i in range(big)]
        frame = rf.encode_batch(rf.KIND_BATCH_REQUEST, 101, items)
        self.assertGreater(len(frame) - 24, rf.MAX_PAYLOAD)
        conn.send(frame)
        kind, id, payload = read_frame(conn)
        self.assertEqual((kind, id), (rf.KIND_BATCH_REPLY, 101))
        self.assertEqual([rf.parse_add_reply(p) for _, p in rf.parse_batch(payload)],
                         [workload.add(i, 2**63 - 1) for i in range(big)])
        mixed = [(rf.KIND_ADD_REQUEST, rf.payload_of(rf.encode_add_request(0, 2, 3))),
                 (rf.KIND_ADD_REQUEST, bytes(8)),  # wrong size: an error item
                 (rf.KIND_SCORE_REQUEST, rf.payload_of(rf.encode_score_request(0, workload.ramp_features(256),
                                                                               "modèle-ü")))]
        conn.send(rf.encode_batch(rf.KIND_BATCH_REQUEST, 102, mixed))
        kind, id, payload = read_frame(conn)
        self.assertEqual((kind, id), (rf.KIND_BATCH_REPLY, 102))
        answers = rf.parse_batch(payload)
        self.assertEqual([k for k, _ in answers], [rf.KIND_ADD_REPLY, rf.KIND_ERROR, rf.KIND_SCORE_REPLY])
        self.assertEqual(rf.parse_add_reply(answers[0][1]), 5)
        s, label = rf.parse_score_reply(answers[2][1])
        self.assertEqual((struct.pack(">d", s).hex(), label), (RAMP_256_HEX, "fraud"))
        conn.send(header(rf.KIND_BATCH_REQUEST, 103, 8) + struct.pack("<II", 0, 0))  # count 0
        self.expect_error(conn, 103)
        self.check_add(conn, 104)


class SocketPeerTests:
    """Shared by the unix and tcp tests; subclasses define start_peer/connect."""

    def test_add_and_score(self):
        proc = self.start_peer()
        conn = self.connect(proc)
        self.check_add_overflow(conn)
        self.check_score_ramp_256(conn)
        self.check_add(conn, 3, -7, 3)
        conn.close()

    def test_wrong_kind_then_valid_request(self):
        proc = self.start_peer()
        conn = self.connect(proc)
        conn.send(header(0x09, 41, 4) + b"abcd")
        self.assertIn("kind", self.expect_error(conn, 41))
        self.check_add(conn, 42)
        conn.send(header(rf.KIND_ADD_REQUEST, 43, 8) + b"\0" * 8)  # wrong add size
        self.expect_error(conn, 43)
        self.check_add(conn, 44)

    def test_score_inconsistent_n_then_valid_request(self):
        proc = self.start_peer()
        conn = self.connect(proc)
        payload = struct.pack("<II", 3, 1) + b"\0" * 16 + b"m"  # n = 3 but 2 features
        conn.send(header(rf.KIND_SCORE_REQUEST, 51, len(payload)) + payload)
        self.expect_error(conn, 51)
        payload = struct.pack("<II", 0, 2) + b"\xc0\xaf"  # invalid UTF-8 model
        conn.send(header(rf.KIND_SCORE_REQUEST, 52, len(payload)) + payload)
        self.expect_error(conn, 52)
        self.check_score_ramp_256(conn, 53)

    def test_payload_too_long_closes_and_peer_keeps_serving(self):
        proc = self.start_peer()
        conn = self.connect(proc)
        conn.send(header(rf.KIND_ADD_REQUEST, 61, rf.MAX_PAYLOAD + 1) + b"\0" * 64)
        self.expect_error(conn, 61)
        self.expect_closed(conn)
        conn.close()
        fresh = self.connect(proc)
        self.check_add_overflow(fresh, 62)
        self.assertIsNone(proc.poll())

    def test_bad_magic_closes_and_peer_keeps_serving(self):
        proc = self.start_peer()
        conn = self.connect(proc)
        conn.send(header(rf.KIND_ADD_REQUEST, 71, 16, magic=0xDEADBEEF) + b"\0" * 16)
        self.expect_error(conn, 0)
        self.expect_closed(conn)
        conn.close()
        self.assertIsNone(proc.poll())
        fresh = self.connect(proc)
        self.check_add(fresh, 72)

    def test_stalled_connection_does_not_block_others(self):
        proc = self.start_peer()
        stalled = self.connect(proc)
        stalled.send(rf.encode_add_request(81, 1, 1)[:30])  # half a frame, then nothing
        other = self.connect(proc)
        self.check_add(other, 82)
        self.check_score_ramp_256(other, 83)
        stalled.close()

    def test_echo_returns_bytes_unchanged(self):
        proc = self.start_peer("--echo")
        conn = self.connect(proc)
        frames = [rf.encode_add_request(91, 2**63 - 1, 1),
                  rf.encode_score_request(92, workload.ramp_features(256), "modèle-ü"),
                  header(0x77, 93, 5, magic=0x01020304) + b"hello",  # echo does not decode
                  rf.encode_score_request(94, workload.ramp_features(100000), "big")]
        for frame in frames:
            conn.send(frame)
            self.assertEqual(conn.recv_exact(len(frame)), frame)

    def test_batches(self):
        proc = self.start_peer()
        self.check_batches(self.connect(proc))

    def test_batch_too_long_closes_and_peer_keeps_serving(self):
        proc = self.start_peer()
        conn = self.connect(proc)
        conn.send(header(rf.KIND_BATCH_REQUEST, 105, rf.MAX_BATCH_PAYLOAD + 1) + b"\0" * 64)
        self.assertIn(str(rf.MAX_BATCH_PAYLOAD), self.expect_error(conn, 105))
        self.expect_closed(conn)
        self.check_add(self.connect(proc), 106)

    def test_echo_returns_batch_frames_unchanged(self):
        proc = self.start_peer("--echo")
        conn = self.connect(proc)
        items = [(rf.KIND_ADD_REQUEST, rf.payload_of(rf.encode_add_request(0, i, i))) for i in range(60000)]
        frame = rf.encode_batch(rf.KIND_BATCH_REQUEST, 107, items)  # past MAX_PAYLOAD
        conn.send(frame)
        self.assertEqual(conn.recv_exact(len(frame)), frame)

    def test_sigterm_exits_zero(self):
        proc = self.start_peer()
        self.check_add(self.connect(proc), 1)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(proc), 0)
        self.assertEqual(self.remaining_stdout(proc), b"")  # only the READY line, ever
        self.assertNotIn("Traceback", self.stderr_of(proc))


class UnixPeerTest(SocketPeerTests, PeerTestCase):
    def start_peer(self, *extra):
        self.path = os.path.join(self.tmp, "s.sock")
        proc = self.start("unix", self.path, *extra)
        self.assertEqual(proc.ready_address, self.path)
        return proc

    def connect(self, proc):
        conn = SocketConn(socket.AF_UNIX, proc.ready_address)
        self.addCleanup(conn.close)
        return conn

    def test_socket_file_is_0600_and_removed(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            with self.subTest(signal=sig):
                proc = self.start_peer()
                st = os.lstat(self.path)
                self.assertTrue(stat.S_ISSOCK(st.st_mode))
                self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
                proc.send_signal(sig)
                self.assertEqual(self.wait_exit(proc), 0)
                self.assertFalse(os.path.lexists(self.path))


class TcpPeerTest(SocketPeerTests, PeerTestCase):
    def start_peer(self, *extra):
        proc = self.start("tcp", "127.0.0.1:0", *extra)
        host, _, port = proc.ready_address.rpartition(":")
        self.assertEqual(host, "127.0.0.1")
        self.assertGreater(int(port), 0)
        return proc

    def connect(self, proc):
        host, _, port = proc.ready_address.rpartition(":")
        conn = SocketConn(socket.AF_INET, (host, int(port)))
        self.addCleanup(conn.close)
        return conn

    def test_refuses_non_loopback(self):
        for address in ("0.0.0.0:0", "127.0.0.1:99999", "127.0.0.1"):
            with self.subTest(address=address):
                proc = self.start("tcp", address, wait_ready=False)
                self.assertEqual(self.wait_exit(proc), 2)


class PipePeerTest(PeerTestCase):
    def start_pipe(self, *extra):
        proc = self.start("pipe", "-", *extra)
        self.assertEqual(proc.ready_address, "-")
        return proc, PipeConn(proc)

    def test_add_and_score_then_eof_exits_zero(self):
        proc, conn = self.start_pipe()
        self.check_add_overflow(conn)
        self.check_score_ramp_256(conn)
        conn.send(header(0x09, 5, 0))  # bad kind: error, keeps serving
        self.expect_error(conn, 5)
        payload = struct.pack("<II", 3, 1) + b"\0" * 16 + b"m"
        conn.send(header(rf.KIND_SCORE_REQUEST, 6, len(payload)) + payload)
        self.expect_error(conn, 6)
        self.check_add(conn, 7)
        proc.stdin.close()
        self.assertEqual(self.wait_exit(proc), 0)
        self.assertEqual(self.remaining_stdout(proc), b"")

    def test_bad_magic_exits_3(self):
        proc, conn = self.start_pipe()
        conn.send(header(1, 8, 16, magic=0xDEADBEEF) + b"\0" * 16)
        self.expect_error(conn, 0)
        self.assertEqual(self.wait_exit(proc), 3)

    def test_payload_too_long_exits_3(self):
        proc, conn = self.start_pipe()
        conn.send(header(1, 9, rf.MAX_PAYLOAD + 1))
        self.expect_error(conn, 9)
        self.assertEqual(self.wait_exit(proc), 3)

    def test_batches_then_eof_exits_zero(self):
        proc, conn = self.start_pipe()
        self.check_batches(conn)
        proc.stdin.close()
        self.assertEqual(self.wait_exit(proc), 0)

    def test_batch_too_long_exits_3(self):
        proc, conn = self.start_pipe()
        conn.send(header(rf.KIND_BATCH_REQUEST, 108, rf.MAX_BATCH_PAYLOAD + 1))
        self.expect_error(conn, 108)
        self.assertEqual(self.wait_exit(proc), 3)

    def test_echo(self):
        proc, conn = self.start_pipe("--echo")
        frame = rf.encode_score_request(10, workload.ramp_features(256), "modèle-ü")
        conn.send(frame)
        self.assertEqual(conn.recv_exact(len(frame)), frame)
        proc.stdin.close()
        self.assertEqual(self.wait_exit(proc), 0)

    def test_sigterm_exits_zero(self):
        proc, conn = self.start_pipe()
        self.check_add(conn, 11)
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(proc), 0)


class CommandLineTest(PeerTestCase):
    def run_peer(self, *args):
        return subprocess.run([PYTHON, PEER, *args], cwd=self.tmp, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=TIMEOUT)

    def test_unknown_transport_lists_valid_ones(self):
        r = self.run_peer("--transport=carrier-pigeon", "--address=x")
        self.assertEqual(r.returncode, 2)
        for name in ("unix", "tcp", "pipe", "rest", "grpc", "grpc-stream", "redis",
                     "redis-stream", "shm-spin", "shm-futex", "file-inotify", "file-poll"):
            self.assertIn(name, r.stderr.decode())
        self.assertEqual(r.stdout, b"")

    def test_unsupported_codec(self):
        # Frames carry every codec (unix, tcp, pipe, shm), and so do Redis
        # values and files; REST is JSON only, gRPC protobuf only.
        for transport, codec, valid in (("rest", "raw", "json"), ("grpc", "json", "protobuf"),
                                        ("unix", "xml", "raw, json, protobuf")):
            with self.subTest(transport=transport, codec=codec):
                r = self.run_peer(f"--transport={transport}", f"--address={self.tmp}/s.sock",
                                  f"--codec={codec}")
                self.assertEqual(r.returncode, 2)
                self.assertIn(f"(valid: {valid})", r.stderr.decode())
                self.assertFalse(os.path.lexists(f"{self.tmp}/s.sock"))

    def test_pipe_address_must_be_dash(self):
        self.assertEqual(self.run_peer("--transport=pipe", "--address=/x").returncode, 2)

    def test_missing_address(self):
        self.assertEqual(self.run_peer("--transport=tcp").returncode, 2)


if __name__ == "__main__":
    unittest.main()
