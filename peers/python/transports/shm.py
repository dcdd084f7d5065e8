"""Shared memory: one request slot and one reply slot in a POSIX shm segment
made by the harness (schemas/shm_layout.md, version 2), raw frames in the slots.

Address: the shm name, e.g. /interop-spectrum-123-shm-spin-python, opened as
/dev/shm/interop-spectrum-123-shm-spin-python. The peer checks the segment's
header (wrong: exit 2), maps it, reads req_seq, prints READY, then serves:
wait until req_seq changes, read the request frame in place, write the reply
frame, store rep_seq = req_seq. The wait is a tight load loop (`spin`) or
spin-then-futex (`futex`), as the header says, whatever the transport's name
(shm, shm-spin, shm-futex). The peer never unlinks the segment: the harness
owns it. With --echo the reply is the request frame itself, copied unchanged
(a frame larger than the reply slot gets an error frame).

Python cannot fence. The reply slot is written before the rep_seq store, the
request slot read after the req_seq load that saw the new number, and x86-64
keeps those in order (TSO): aligned 4-byte stores are releases and loads are
acquires. So the peer refuses to run on any other architecture. For the same
reason it cannot tell reliably whether the harness sleeps, and in futex mode
calls FUTEX_WAKE after every reply.
"""

import ctypes
import mmap
import os
import platform
import struct

import raw_frame
from raw_frame import HEADER_SIZE, KIND_ADD_REPLY, KIND_ADD_REQUEST, MAGIC, VERSION
from transports import PeerError, UsageError, announce
from workload import add as _add

CODECS = ("raw",)
DEFAULT_ADDRESS = None

SHM_MAGIC = 0x4D485349  # "ISHM"
SHM_VERSION = 2
WAIT_SPIN = 0
WAIT_FUTEX = 1
# Each sequence word starts a 64-byte cache line and its slot follows on the
# same line, so a small frame travels with the number that publishes it.
REQ_SEQ, REQ_SLEEPING, REQ_SLOT = 64, 68, 72
REQ_CAP = 1052696  # 24 + MAX_PAYLOAD
REP_SEQ, REP_SLEEPING, REP_SLOT = 1052800, 1052804, 1052808
REP_CAP = 4096
SEGMENT_SIZE = REP_SLOT + REP_CAP  # 1,056,904
# The sequence words as indexes of the segment viewed as u32.
_REQ_SEQ_I, _REQ_SLEEPING_I, _REP_SEQ_I = REQ_SEQ // 4, REQ_SLEEPING // 4, REP_SEQ // 4
# The request frame's payload_len (frame offset 16), likewise.
_REQ_PAYLOAD_LEN_I = (REQ_SLOT + 16) // 4

# magic, version, wait mode, REQ_CAP, REP_CAP, spin budget
_SEGMENT_HEADER = struct.Struct("<6I")
# An add request frame as (magic..reserved as one u64, id, payload_len, x, y),
# and a whole add reply frame.
_ADD_REQUEST_HEAD = struct.Struct("<QQI4xqq")
_ADD_REQUEST_FIRST_WORD = MAGIC | VERSION << 32 | KIND_ADD_REQUEST << 40
_ADD_REPLY = struct.Struct("<IBBHQIIq")
_ID_LEN = struct.Struct("<QI")
_U32 = struct.Struct("<I")

SYS_FUTEX = 202  # x86-64
FUTEX_WAIT = 0
FUTEX_WAKE = 1
WAIT_TIMEOUT_NS = 100_000_000  # 100 ms: a lost wake-up costs at most this


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class Futex:
    """FUTEX_WAIT / FUTEX_WAKE on one u32 of the mapping (shared, not PRIVATE)."""

    def __init__(self, address: int):
        libc = ctypes.CDLL(None, use_errno=True)
        self._syscall = libc.syscall
        self._syscall.restype = ctypes.c_long
        self._nr = ctypes.c_long(SYS_FUTEX)
        self._addr = ctypes.c_void_p(address)
        self._wait_op = ctypes.c_int(FUTEX_WAIT)
        self._wake_op = ctypes.c_int(FUTEX_WAKE)
        self._one = ctypes.c_uint(1)
        self._zero = ctypes.c_int(0)
        self._timeout = _Timespec(WAIT_TIMEOUT_NS // 10**9, WAIT_TIMEOUT_NS % 10**9)
        self._timeout_ref = ctypes.byref(self._timeout)

    def wait(self, expected: int) -> None:
        """Sleep while the word holds `expected`: until woken, 100 ms, or a
        signal. The kernel checks the value itself, so no wake-up is lost."""
        self._syscall(self._nr, self._addr, self._wait_op, ctypes.c_uint(expected),
                      self._timeout_ref, None, self._zero)

    def wake(self) -> None:
        self._syscall(self._nr, self._addr, self._wake_op, self._one, None, None, self._zero)


def shm_path(address: str) -> str:
    name = address[1:]
    if not address.startswith("/") or not name or "/" in name or name in (".", ".."):
        raise UsageError(f"shm address must be a POSIX shm name like /interop-spectrum-1-x, "
                         f"got {address!r}")
    return "/dev/shm/" + name


def check_header(mm) -> "tuple[int, int]":
    """(wait mode, spin budget); UsageError if the header is not ours."""
    magic, version, wait, req_cap, rep_cap, budget = _SEGMENT_HEADER.unpack_from(mm, 0)
    if magic != SHM_MAGIC or version != SHM_VERSION:
        raise UsageError(f"shm segment has magic 0x{magic:08x} version {version}, "
                         f"expected 0x{SHM_MAGIC:08x} version {SHM_VERSION}")
    if req_cap != REQ_CAP or rep_cap != REP_CAP:
        raise UsageError(f"shm segment has slot capacities {req_cap}/{rep_cap}, "
                         f"expected {REQ_CAP}/{REP_CAP}")
    if wait not in (WAIT_SPIN, WAIT_FUTEX):
        raise UsageError(f"shm segment has unknown wait mode {wait}")
    return wait, budget


def run(address: str, codec: str, echo: bool) -> int:
    if platform.machine() not in ("x86_64", "AMD64"):
        raise UsageError(f"the Python shm peer needs x86-64 memory ordering (TSO); "
                         f"this is {platform.machine()}")
    path = shm_path(address)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as e:
        raise PeerError(f"cannot open shm segment {path}: {e}") from None
    try:
        size = os.fstat(fd).st_size
        if size < SEGMENT_SIZE:
            raise UsageError(f"shm segment {path} is {size} bytes, expected {SEGMENT_SIZE}")
        mm = mmap.mmap(fd, SEGMENT_SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    finally:
        os.close(fd)
    try:
        wait, budget = check_header(mm)
        anchor = ctypes.c_char.from_buffer(mm)
        base = ctypes.addressof(anchor)
        del anchor  # an export: mm could not be closed while it lives
        futexes = None
        if wait == WAIT_FUTEX:
            futexes = (Futex(base + REQ_SEQ), Futex(base + REP_SEQ))
        # Before READY: the harness may publish request 1 the moment it reads
        # READY, and a number read after that would never change again.
        last = _U32.unpack_from(mm, REQ_SEQ)[0]
        announce(address)
        _serve(mm, futexes, budget, echo, last)
    finally:
        mm.close()
    return 0


def _serve(mm, futexes, budget: int, echo: bool, last: int) -> None:
    """Answer requests until a signal ends the process (SystemExit)."""
    whole = memoryview(mm)
    words = whole.cast("I")
    reply_ids = whole[REP_SLOT + 8:REP_SLOT + 16].cast("Q")
    reply_results = whole[REP_SLOT + 24:REP_SLOT + 32].cast("q")
    request = whole[REQ_SLOT:REQ_SLOT + REQ_CAP]
    reply = whole[REP_SLOT:REP_SLOT + REP_CAP]
    views = (reply, request, reply_results, reply_ids, words, whole)
    sleep = wake = None
    if futexes is not None:
        req_futex, rep_futex = futexes
        sleep = _sleeper(words, req_futex, budget)
        wake = rep_futex.wake
    try:
        if echo:
            _echo_loop(mm, words, request, reply, sleep, wake, last)
        else:
            _loop(mm, words, request, reply, reply_ids, reply_results, sleep, wake, last)
    finally:
        for view in views:
            view.release()


def _sleeper(words, futex: Futex, budget: int):
    """futex mode's wait: spin `budget` rounds, then sleep on req_seq
    (announced in req_sleeping) until it changes; returns the new value."""
    req_i, sleeping_i = _REQ_SEQ_I, _REQ_SLEEPING_I
    futex_wait = futex.wait

    def sleep(last: int) -> int:
        spins = budget
        seq = words[req_i]
        while seq == last and spins:
            seq = words[req_i]
            spins -= 1
        while seq == last:
            words[sleeping_i] = 1
            seq = words[req_i]  # once more: the harness may have published meanwhile
            if seq == last:
                futex_wait(last)
                seq = words[req_i]
            words[sleeping_i] = 0
        return seq

    return sleep


def _loop(mm, words, request, reply, reply_ids, reply_results, sleep, wake,
          last: int) -> None:
    """The benchmarked loop. Spin mode waits inline, in a tight load loop; an
    add request is answered inline (the reply's fixed header stays in the slot
    between add replies, so only id and result are written); anything else
    goes through raw_frame.answer_frame."""
    unpack_add = _ADD_REQUEST_HEAD.unpack_from
    pack_add_head = _ADD_REPLY.pack_into
    answer = raw_frame.answer_frame
    add = _add
    req_i, rep_i, req_slot, rep_slot = _REQ_SEQ_I, _REP_SEQ_I, REQ_SLOT, REP_SLOT
    add_head = _ADD_REQUEST_FIRST_WORD
    head_ok = False  # does the reply slot hold an add reply's fixed header?
    while True:
        seq = words[req_i]
        if seq == last:
            if sleep is None:
                while seq == last:
                    seq = words[req_i]
            else:
                seq = sleep(last)
        head, rid, plen, x, y = unpack_add(mm, req_slot)
        if head == add_head and plen == 16:
            if not head_ok:
                pack_add_head(mm, rep_slot, MAGIC, VERSION, KIND_ADD_REPLY, 0, 0, 8, 0, 0)
                head_ok = True
            reply_ids[0] = rid
            reply_results[0] = add(x, y)
        else:
            answer(request, reply)
            head_ok = False
        words[rep_i] = seq
        last = seq
        if wake is not None:
            wake()  # always: without a fence we cannot trust rep_sleeping


def _echo_loop(mm, words, request, reply, sleep, wake, last: int) -> None:
    """--echo, the floor: the loop above with the request frame copied to the
    reply slot unchanged, inline (one memmove: mmap.move makes no slice
    objects). Only payload_len is read, and bounded by the reply slot."""
    move = mm.move
    req_i, rep_i, plen_i = _REQ_SEQ_I, _REP_SEQ_I, _REQ_PAYLOAD_LEN_I
    req_slot, rep_slot = REQ_SLOT, REP_SLOT
    room = REP_CAP - HEADER_SIZE
    while True:
        seq = words[req_i]
        if seq == last:
            if sleep is None:
                while seq == last:
                    seq = words[req_i]
            else:
                seq = sleep(last)
        plen = words[plen_i]
        if plen <= room:
            move(rep_slot, req_slot, HEADER_SIZE + plen)
        else:
            _refuse_oversized(request, reply)
        words[rep_i] = seq
        last = seq
        if wake is not None:
            wake()  # always: without a fence we cannot trust rep_sleeping


def _refuse_oversized(request, reply) -> None:
    """The error frame for a request frame that does not fit the reply slot."""
    rid, plen = _ID_LEN.unpack_from(request, 8)
    message = f"payload_len {plen} does not fit the {len(reply)}-byte reply slot"
    raw_frame.log(f"echo refused (id {rid}): {message}")
    error = raw_frame.encode_error(rid, message)
    reply[:len(error)] = error
