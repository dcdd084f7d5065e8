"""The real peer over `shm`; the test plays the harness (schemas/shm_layout.md):
it creates the segment, writes the header, publishes requests and waits for
replies, always with a deadline. The segment is unlinked in cleanup."""

import ctypes
import itertools
import mmap
import os
import platform
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

import raw_frame as rf  # noqa: E402
import workload  # noqa: E402
from test_peer import RAMP_256_HEX, TIMEOUT, PeerTestCase, header  # noqa: E402

# The layout (version 4), written out from the spec (not imported from the peer).
MAGIC, VERSION = 0x4D485349, 4
REQ_CAP, REP_CAP = 1052696, 4096  # a row of single calls
MIN_CAP, MAX_CAP = 4096, 16777240  # any multiple of 8 within these
SPIN, FUTEX = 0, 1
U32 = 0xFFFFFFFF


def stride(capacity):
    return (8 + capacity + 63) // 64 * 64


assert (stride(REQ_CAP), stride(REP_CAP)) == (1052736, 4160)  # the spec's numbers

RAMP_65536_HEX = "3fc0a764fd292938"  # "ramp 65536, 4-byte UTF-8 model"
RAMP_65536_MODEL = "モデル-αβγ-😀"

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


_names = itertools.count()


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def futex(address, op, value, timeout_s=None):
    ts = None
    if timeout_s is not None:
        ts = ctypes.byref(_Timespec(int(timeout_s), int(timeout_s % 1 * 1e9)))
    return _libc.syscall(ctypes.c_long(202), ctypes.c_void_p(address), ctypes.c_int(op),
                         ctypes.c_uint(value), ts, None, ctypes.c_int(0))


class Segment:
    """The harness's side of one segment: `slots` entries each way, call n in
    entry (n-1) mod slots, whose seq words hold n-slots until n is published."""

    def __init__(self, name, wait=SPIN, budget=1000, magic=MAGIC, version=VERSION, req_cap=REQ_CAP,
                 rep_cap=REP_CAP, seq=0, slots=1, short_by=0):
        self.name = name
        self.path = "/dev/shm" + name
        self.slots = slots
        self.mask = max(slots, 1) - 1
        self.req_cap, self.rep_cap = req_cap, rep_cap
        self.req_stride, self.rep_stride = stride(req_cap), stride(rep_cap)
        self.replies = 64 + max(slots, 1) * self.req_stride
        size = self.replies + max(slots, 1) * self.rep_stride - short_by
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.ftruncate(fd, size)
            self.mm = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        struct.pack_into("<8I", self.mm, 0, magic, version, wait, req_cap, rep_cap, budget, slots, seq)
        self.words = memoryview(self.mm).cast("I")
        for k in range(1, max(slots, 1) + 1):
            n = (seq + k) & U32
            if self.rep(n) < size:  # not for a segment cut short on purpose
                self.words[self.req(n) // 4] = self.words[self.rep(n) // 4] = (n - slots) & U32
        self.seq = self.taken = seq
        self.wait = wait
        anchor = ctypes.c_char.from_buffer(self.mm)
        self.base = ctypes.addressof(anchor)
        del anchor

    def req(self, n):
        """Offset of call n's request entry (its seq word; the frame is at +8)."""
        return 64 + ((n - 1) & self.mask) * self.req_stride

    def rep(self, n):
        return self.replies + ((n - 1) & self.mask) * self.rep_stride

    def close(self):
        self.words.release()
        self.mm.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def call(self, frame, sleep_on_reply=False):
        """(kind, id, payload) of the reply to `frame`."""
        self.post(frame)
        return self.take(sleep_on_reply)

    def post(self, frame):
        """Publishes `frame` as the next call, without waiting."""
        assert len(frame) <= self.req_cap, "the harness never writes a frame past its slot"
        n = self.seq = (self.seq + 1) & U32
        slot = self.req(n) + 8
        self.mm[slot:slot + len(frame)] = frame
        self.words[self.req(n) // 4] = n
        if self.wait == FUTEX:
            futex(self.base + self.req(n), 1, 1)  # FUTEX_WAKE, always (no fence here)

    def take(self, sleep_on_reply=False):
        """Waits for the reply to the oldest call not taken; (kind, id, payload)."""
        n = self.taken = (self.taken + 1) & U32
        self.wait_reply(n, sleep_on_reply)
        slot = self.rep(n) + 8
        kind, id, plen = rf.decode_header(self.mm, slot)
        return kind, id, bytes(self.mm[slot + 24:slot + 24 + plen])

    def wait_reply(self, n, sleep_on_reply):
        deadline = time.monotonic() + TIMEOUT
        words, seq_i = self.words, self.rep(n) // 4
        while words[seq_i] != n:
            if time.monotonic() > deadline:
                raise AssertionError(f"no reply to request {n} within {TIMEOUT}s")
            if sleep_on_reply:
                words[seq_i + 1] = 1
                if words[seq_i] != n:
                    futex(self.base + seq_i * 4, 0, (n - self.slots) & U32, 1.0)
                words[seq_i + 1] = 0

    def peer_sleeping(self):
        """Is the peer asleep on the next call's request entry?"""
        return self.words[self.req((self.seq + 1) & U32) // 4 + 1] == 1

    def echo(self, frame):
        """The first len(frame) bytes of the reply slot after `frame`."""
        self.post(frame)
        n = self.taken = (self.taken + 1) & U32
        self.wait_reply(n, False)
        slot = self.rep(n) + 8
        return bytes(self.mm[slot:slot + len(frame)])


@unittest.skipUnless(platform.machine() == "x86_64", "the Python shm peer runs on x86-64 only")
class ShmPeerTest(PeerTestCase):
    def segment(self, **options):
        name = f"/interop-spectrum-test-{os.getpid()}-{next(_names)}"
        seg = Segment(name, **options)
        self.addCleanup(seg.close)
        return seg

    def start_peer(self, seg, *extra):
        # bench's names for the rows; plain "shm" works too (the segment says the mode)
        proc = self.start("shm-futex" if seg.wait == FUTEX else "shm-spin", seg.name, *extra)
        self.assertEqual(proc.ready_address, seg.name)
        return proc

    def check_calls(self, seg, **call_options):
        call = lambda frame: seg.call(frame, **call_options)  # noqa: E731
        self.assertEqual(call(rf.encode_add_request(1, 2**63 - 1, 1)),
                         (rf.KIND_ADD_REPLY, 1, struct.pack("<q", -2**63)))
        frame = rf.encode_score_request(2, workload.ramp_features(256), "modèle-ü")
        kind, id, payload = call(frame)
        self.assertEqual((kind, id), (rf.KIND_SCORE_REPLY, 2))
        s, label = rf.parse_score_reply(payload)
        self.assertEqual((struct.pack(">d", s).hex(), label), (RAMP_256_HEX, "fraud"))
        for i in range(50):
            self.assertEqual(call(rf.encode_add_request(100 + i, i, -1)),
                             (rf.KIND_ADD_REPLY, 100 + i, struct.pack("<q", i - 1)))

    def test_spin(self):
        seg = self.segment(wait=SPIN, seq=0xFFFFFFFE)  # the sequence wraps at 2^32
        self.start_peer(seg)
        self.check_calls(seg)
        self.assertFalse(seg.peer_sleeping())

    def test_calls_in_flight_round_the_ring(self):
        """Eight calls published before any reply is taken, in a ring of 8
        (and of 16, half used), across the wrap of the sequence at 2^32:
        every reply in its own entry, answering its own request."""
        for wait, slots in ((SPIN, 8), (FUTEX, 8), (SPIN, 16)):
            with self.subTest(wait=wait, slots=slots):
                seg = self.segment(wait=wait, budget=50, slots=slots, seq=U32 - 20)
                self.start_peer(seg)
                next_id = 1
                for _ in range(6):
                    ids = range(next_id, next_id + 8)
                    for i in ids:
                        seg.post(rf.encode_add_request(i, i, 1000))
                    for i in ids:
                        self.assertEqual(seg.take(sleep_on_reply=wait == FUTEX),
                                         (rf.KIND_ADD_REPLY, i, struct.pack("<q", i + 1000)))
                    next_id += 8
                self.check_calls(seg)

    def test_largest_score_vector_bit_for_bit(self):
        seg = self.segment(wait=SPIN)
        self.start_peer(seg)
        frame = rf.encode_score_request(7, workload.ramp_features(65536), RAMP_65536_MODEL)
        kind, id, payload = seg.call(frame)
        self.assertEqual((kind, id), (rf.KIND_SCORE_REPLY, 7))
        s, label = rf.parse_score_reply(payload)
        self.assertEqual((struct.pack(">d", s).hex(), label), (RAMP_65536_HEX, "legit"))
        # The most the request slot takes: 131072 features and a 1024-byte model.
        frame = rf.encode_score_request(8, [0.25] * 131072, "m" * 1024)
        self.assertLessEqual(len(frame), REQ_CAP)
        self.assertEqual(seg.call(frame)[:2], (rf.KIND_SCORE_REPLY, 8))

    def test_futex_sleeps_and_is_woken(self):
        seg = self.segment(wait=FUTEX, budget=100)
        self.start_peer(seg)
        self.check_calls(seg, sleep_on_reply=True)
        # Idle, the peer sleeps (and says so); a FUTEX_WAKE brings it back at
        # once, far sooner than its 100 ms timeout.
        latencies = []
        for i in range(8):
            deadline = time.monotonic() + TIMEOUT
            while not seg.peer_sleeping():
                self.assertLess(time.monotonic(), deadline, "the peer never slept")
                time.sleep(0.005)
            started = time.monotonic()
            self.assertEqual(seg.call(rf.encode_add_request(i, i, i), sleep_on_reply=True)[1], i)
            latencies.append(time.monotonic() - started)
        self.assertLess(sorted(latencies)[len(latencies) // 2], 0.04, latencies)

    def test_bad_frames_get_error_frames(self):
        seg = self.segment(wait=SPIN)
        self.start_peer(seg)
        kind, id, message = seg.call(header(1, 5, 16, magic=0xDEADBEEF) + b"\0" * 16)
        self.assertEqual((kind, id), (rf.KIND_ERROR, 0))
        self.assertEqual(seg.call(header(1, 6, rf.MAX_PAYLOAD + 1))[:2], (rf.KIND_ERROR, 6))
        self.assertEqual(seg.call(header(0x09, 7, 0))[:2], (rf.KIND_ERROR, 7))
        self.assertEqual(seg.call(header(1, 8, 8) + b"\0" * 8)[:2], (rf.KIND_ERROR, 8))
        payload = struct.pack("<II", 131073, 0)  # n over the bound
        self.assertEqual(seg.call(header(2, 9, len(payload)) + payload)[:2], (rf.KIND_ERROR, 9))
        payload = struct.pack("<II", 0, 2) + b"\xc0\xaf"  # invalid UTF-8 model
        self.assertEqual(seg.call(header(2, 10, len(payload)) + payload)[:2], (rf.KIND_ERROR, 10))
        self.check_calls(seg)

    def test_echo(self):
        for wait in (SPIN, FUTEX):
            with self.subTest(wait=wait):
                seg = self.segment(wait=wait, budget=10)
                proc = self.start_peer(seg, "--echo")
                frames = [rf.encode_add_request(1, 2**63 - 1, 1),
                          rf.encode_score_request(2, workload.ramp_features(256), "modèle-ü"),
                          header(0x77, 3, 5, magic=0x01020304) + b"hello",  # nothing decoded
                          header(rf.KIND_SCORE_REQUEST, 4, REP_CAP - 24) + b"\1" * (REP_CAP - 24)]
                for frame in frames:  # the last one fills the reply slot exactly
                    self.assertEqual(seg.echo(frame), frame)
                big = header(rf.KIND_SCORE_REQUEST, 5, REP_CAP - 23) + b"\1" * (REP_CAP - 23)
                kind, id, message = seg.call(big)  # one byte too long for the reply slot
                self.assertEqual((kind, id), (rf.KIND_ERROR, 5))
                self.assertIn(b"reply slot", message)
                self.assertEqual(seg.call(header(1, 6, rf.MAX_PAYLOAD + 1))[:2], (rf.KIND_ERROR, 6))
                for frame in frames:  # still serving
                    self.assertEqual(seg.echo(frame), frame)
                self.assertIsNone(proc.poll())

    def batch(self, id, items):
        return rf.encode_batch(rf.KIND_BATCH_REQUEST, id, items)

    def check_batch(self, seg, id, items, **call_options):
        """Calls a batch of `items` (kind, payload); checks that item i of its
        reply is what item i gets as a single call on this very segment."""
        kind, rid, payload = seg.call(self.batch(id, items), **call_options)
        self.assertEqual((kind, rid), (rf.KIND_BATCH_REPLY, id))
        answers = [(k, bytes(p)) for k, p in rf.parse_batch(payload)]
        self.assertEqual(len(answers), len(items))
        singles = {}
        for i, ((k, p), (got_kind, got)) in enumerate(zip(items, answers)):
            if (k, p) not in singles:
                single = seg.call(header(k, 1000 + i, len(p)) + p, **call_options)
                singles[k, p] = single[0], single[2]
            want_kind, want = singles[k, p]
            self.assertEqual(got_kind, want_kind, i)
            if want_kind != rf.KIND_ERROR:  # error messages may differ (they name items)
                self.assertEqual(got, want, i)
        return answers

    def test_batches_with_the_capacities_the_header_says(self):
        """A row of batches: bigger slots than version 3's, both read from the
        header; four calls in flight round a ring across the wrap at 2^32.
        Batches (one past MAX_PAYLOAD) are answered item by item, as single
        calls are on the same segment; the add hot path still serves."""
        big = 60000  # adds: a 1,440,032-byte request payload
        req_cap = (24 + 8 + 24 * big + 7) // 8 * 8
        rep_cap = 32 + 48 * big
        for wait in (SPIN, FUTEX):
            with self.subTest(wait=wait):
                seg = self.segment(wait=wait, budget=50, req_cap=req_cap, rep_cap=rep_cap, slots=4,
                                   seq=U32 - 2)
                self.start_peer(seg)
                sleep = wait == FUTEX
                self.check_calls(seg, sleep_on_reply=sleep)
                mixed = [(1, rf.payload_of(rf.encode_add_request(0, 2**63 - 1, 1))),
                         (2, rf.payload_of(rf.encode_score_request(0, workload.ramp_features(256), "modèle-ü"))),
                         (1, bytes(8)),  # wrong add size: an error item, the others answered
                         (0x09, b"abc"),  # unknown kind
                         (2, struct.pack("<II", 0, 2) + b"\xc0\xaf"),  # model not UTF-8
                         (2, rf.payload_of(rf.encode_score_request(0, [0.4, 1.2], "m")))]
                answers = self.check_batch(seg, 30, mixed, sleep_on_reply=sleep)
                self.assertEqual([k for k, _ in answers], [0x81, 0x82, 0xFF, 0xFF, 0xFF, 0x82])
                s, label = rf.parse_score_reply(answers[1][1])
                self.assertEqual((struct.pack(">d", s).hex(), label), (RAMP_256_HEX, "fraud"))
                # Calls in flight: batches and singles published before any reply is taken.
                adds = [(1, rf.payload_of(rf.encode_add_request(0, i, -2 * i))) for i in range(big)]
                self.assertGreater(len(self.batch(31, adds)) - 24, rf.MAX_PAYLOAD)
                seg.post(self.batch(31, adds))
                seg.post(rf.encode_add_request(32, 5, 6))
                seg.post(self.batch(33, mixed[:2]))
                seg.post(rf.encode_add_request(34, 7, 8))
                kind, id, payload = seg.take(sleep)
                self.assertEqual((kind, id), (rf.KIND_BATCH_REPLY, 31))
                self.assertEqual([rf.parse_add_reply(p) for _, p in rf.parse_batch(payload)],
                                 [-i for i in range(big)])
                self.assertEqual(seg.take(sleep), (rf.KIND_ADD_REPLY, 32, struct.pack("<q", 11)))
                self.assertEqual(seg.take(sleep)[:2], (rf.KIND_BATCH_REPLY, 33))
                self.assertEqual(seg.take(sleep), (rf.KIND_ADD_REPLY, 34, struct.pack("<q", 15)))
                # A wrong shape: one error frame with the batch's id.
                count_zero = struct.pack("<II", 0, 0)
                self.assertEqual(seg.call(header(0x10, 35, 8) + count_zero, sleep)[:2], (rf.KIND_ERROR, 35))
                # payload_len past the request slot, and past its kind's bound.
                self.assertEqual(seg.call(header(0x10, 36, req_cap - 23), sleep)[:2], (rf.KIND_ERROR, 36))
                self.assertEqual(seg.call(header(1, 37, rf.MAX_PAYLOAD + 1), sleep)[:2], (rf.KIND_ERROR, 37))
                self.check_calls(seg, sleep_on_reply=sleep)

    def test_a_reply_that_does_not_fit_its_slot_is_one_error_frame(self):
        """Version 3's capacities (single calls): a batch is answered while its
        reply fits the 4096-byte reply slot; past that, one error frame."""
        seg = self.segment(wait=SPIN)
        self.start_peer(seg)
        adds = [(1, rf.payload_of(rf.encode_add_request(0, i, i))) for i in range(254)]
        kind, id, payload = seg.call(self.batch(40, adds))  # 32 + 254 * 16 = 4096: fits exactly
        self.assertEqual((kind, id, len(payload)), (rf.KIND_BATCH_REPLY, 40, 4096 - 24))
        self.assertEqual(seg.call(self.batch(41, adds + adds[:1])),  # one item more
                         (rf.KIND_ERROR, 41, b"the reply does not fit the reply slot"))
        wrong = [(1, bytes(8))] * 100  # error items are long
        self.assertEqual(seg.call(self.batch(42, wrong))[:2], (rf.KIND_ERROR, 42))
        self.check_calls(seg)

    def test_smallest_capacities(self):
        """4096 bytes each way: singles that fit are served, a frame that says
        it is longer than the request slot gets an error frame."""
        seg = self.segment(wait=SPIN, req_cap=MIN_CAP, rep_cap=MIN_CAP, slots=2)
        self.start_peer(seg)
        self.assertEqual(seg.call(rf.encode_add_request(1, 2, 3)), (rf.KIND_ADD_REPLY, 1, struct.pack("<q", 5)))
        frame = rf.encode_score_request(2, workload.ramp_features(256), "modèle-ü")
        self.assertEqual(seg.call(frame)[:2], (rf.KIND_SCORE_REPLY, 2))
        self.assertEqual(seg.call(header(2, 3, MIN_CAP - 23))[:2], (rf.KIND_ERROR, 3))
        self.assertEqual(seg.call(rf.encode_add_request(4, 2, 3)), (rf.KIND_ADD_REPLY, 4, struct.pack("<q", 5)))

    def test_echo_with_the_capacities_the_header_says(self):
        """--echo bounds a frame by the smaller slot, and by its kind past
        MAX_PAYLOAD: a batch frame of 1.4 MB comes back, a single one does not."""
        cap = 1600000
        for req_cap, rep_cap in ((cap, cap), (cap, MIN_CAP), (MIN_CAP, cap)):
            with self.subTest(req_cap=req_cap, rep_cap=rep_cap):
                seg = self.segment(wait=SPIN, req_cap=req_cap, rep_cap=rep_cap)
                proc = self.start_peer(seg, "--echo")
                small = rf.encode_add_request(1, 2**63 - 1, 1)
                self.assertEqual(seg.echo(small), small)
                room = min(req_cap, rep_cap) - 24
                if room > rf.MAX_PAYLOAD:
                    batch = self.batch(2, [(1, rf.payload_of(small))] * 60000)
                    self.assertEqual(seg.echo(batch), batch)
                    single = header(rf.KIND_SCORE_REQUEST, 3, rf.MAX_PAYLOAD + 1) + bytes(rf.MAX_PAYLOAD + 1)
                    kind, id, message = seg.call(single)
                    self.assertEqual((kind, id), (rf.KIND_ERROR, 3))
                    self.assertIn(str(rf.MAX_PAYLOAD).encode(), message)
                kind, id, message = seg.call(header(0x10, 4, room + 1))
                self.assertEqual((kind, id), (rf.KIND_ERROR, 4))
                self.assertIn(b"request slot" if req_cap < rep_cap else b"reply slot", message)
                self.assertEqual(seg.echo(small), small)
                self.assertIsNone(proc.poll())

    def test_sigterm_exits_zero_and_leaves_the_segment(self):
        for wait in (SPIN, FUTEX):
            with self.subTest(wait=wait):
                seg = self.segment(wait=wait, budget=0)
                proc = self.start_peer(seg)
                self.check_calls(seg)
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(self.wait_exit(proc), 0)
                self.assertTrue(os.path.exists(seg.path))  # the harness owns it
                self.assertEqual(self.remaining_stdout(proc), b"")
                self.assertNotIn("Traceback", self.stderr_of(proc))

    def test_refused_segments_exit_2(self):
        cases = [("bad magic", dict(magic=0x12345678)), ("version 3", dict(version=3)),
                 ("request capacity below 4096", dict(req_cap=4088)),
                 ("request capacity not a multiple of 8", dict(req_cap=REQ_CAP + 4)),
                 ("request capacity above the most", dict(req_cap=MAX_CAP + 8)),
                 ("reply capacity zero", dict(rep_cap=0)),
                 ("reply capacity not a multiple of 8", dict(rep_cap=4100)),
                 ("reply capacity above the most", dict(rep_cap=MAX_CAP + 8)),
                 ("segment shorter than its header says", dict(req_cap=8192, rep_cap=8192, short_by=64)),
                 ("bad wait mode", dict(wait=7)), ("slots not a power of two", dict(slots=3)),
                 ("no slots", dict(slots=0))]
        for what, options in cases:
            with self.subTest(what):
                seg = self.segment(**options)
                proc = self.start("shm", seg.name, wait_ready=False)
                self.assertEqual(self.wait_exit(proc), 2)
                self.assertEqual(self.remaining_stdout(proc), b"")
        for address in ("no-slash", "/a/b", "/"):
            with self.subTest(address=address):
                proc = self.start("shm", address, wait_ready=False)
                self.assertEqual(self.wait_exit(proc), 2)
        proc = self.start("shm", f"/interop-spectrum-test-{os.getpid()}-absent", wait_ready=False)
        self.assertEqual(self.wait_exit(proc), 1)


if __name__ == "__main__":
    unittest.main()
