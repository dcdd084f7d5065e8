"""Shared memory: a ring of request and reply entries in a POSIX shm segment
made by the harness (schemas/shm_layout.md, version 4), frames in the
entries: raw, or a JSON or protobuf message in the frame (kinds 0x20, 0x30,
answered whatever --codec says). The entries' frame capacities (REQ_CAP, REP_CAP) are the harness's
choice per row, read from the segment's header: a row of batches needs
bigger slots than one of single calls.

Address: the shm name, e.g. /interop-spectrum-123-shm-spin-python, opened as
/dev/shm/interop-spectrum-123-shm-spin-python. The peer checks the segment's
header (wrong: exit 2), maps it, prints READY, then serves calls in order:
call n (from the header's `first` + 1) uses entry (n-1) mod S each way; wait
until the request entry's seq turns to n, read the request frame in place
(a single call or a batch, bounded by REQ_CAP and by its kind), write the
reply frame in the reply entry (a reply longer than REP_CAP becomes one error
frame), store its seq = n. With S > 1 the
harness may have published the next calls meanwhile (calls in flight): they
are served one after another, no wait between. The wait is a tight load loop
(`spin`) or spin-then-futex (`futex`), as the header says, whatever the
transport's name (shm, shm-spin, shm-futex). The peer never unlinks the
segment: the harness owns it. With --echo the reply is the request frame
itself, copied unchanged (a frame larger than the reply slot, or than its
kind allows, gets an error frame).

Python cannot fence. The reply frame is written before its seq store, the
request frame read after the seq load that saw the new number, and x86-64
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
from raw_frame import (HEADER_SIZE, KIND_ADD_REPLY, KIND_ADD_REQUEST, MAGIC, MAX_BATCH_PAYLOAD,
                       MAX_PAYLOAD, VERSION)
from transports import FRAME_CODECS, PeerError, UsageError, announce, prepare_codec
from workload import add as _add

CODECS = FRAME_CODECS  # every codec rides in the frame; the kind says which
DEFAULT_ADDRESS = None

SHM_MAGIC = 0x4D485349  # "ISHM"
SHM_VERSION = 4
WAIT_SPIN = 0
WAIT_FUTEX = 1
# An entry is [seq u32][sleeping u32][frame] and starts a 64-byte cache line,
# so a small frame travels with the number that publishes it.
ENTRY_HEADER = 8
# A frame capacity is a multiple of 8 within these (version 4); a row of
# single calls gets REQ_CAP = 24 + MAX_PAYLOAD and REP_CAP = 4096.
MIN_CAP = 4096
MAX_CAP = HEADER_SIZE + MAX_BATCH_PAYLOAD  # 16,777,240
REQ_CAP = HEADER_SIZE + MAX_PAYLOAD  # 1,052,696
REP_CAP = 4096
REQUESTS = 64
MAX_SLOTS = 1024


def stride(capacity: int) -> int:
    """An entry's size: its seq and sleeping words and a frame of `capacity`,
    rounded up to whole 64-byte cache lines."""
    return (ENTRY_HEADER + capacity + 63) // 64 * 64


def replies_offset(slots: int, req_cap: int = REQ_CAP) -> int:
    return REQUESTS + slots * stride(req_cap)


def segment_size(slots: int, req_cap: int = REQ_CAP, rep_cap: int = REP_CAP) -> int:
    return replies_offset(slots, req_cap) + slots * stride(rep_cap)


# magic, version, wait mode, REQ_CAP, REP_CAP, spin budget, slots, first
_SEGMENT_HEADER = struct.Struct("<8I")
# An add request frame as (magic..reserved as one u64, id, payload_len, x, y),
# and a whole add reply frame.
_ADD_REQUEST_HEAD = struct.Struct("<QQI4xqq")
_ADD_REQUEST_FIRST_WORD = MAGIC | VERSION << 32 | KIND_ADD_REQUEST << 40
_ADD_REPLY = struct.Struct("<IBBHQIIq")
_ID_LEN = struct.Struct("<QI")
_U32 = 0xFFFFFFFF

SYS_FUTEX = 202  # x86-64
FUTEX_WAIT = 0
FUTEX_WAKE = 1
WAIT_TIMEOUT_NS = 100_000_000  # 100 ms: a lost wake-up costs at most this


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class Futex:
    """FUTEX_WAIT / FUTEX_WAKE on u32 words of the mapping (shared, not PRIVATE)."""

    def __init__(self):
        libc = ctypes.CDLL(None, use_errno=True)
        self._syscall = libc.syscall
        self._syscall.restype = ctypes.c_long
        self._nr = ctypes.c_long(SYS_FUTEX)
        self._wait_op = ctypes.c_int(FUTEX_WAIT)
        self._wake_op = ctypes.c_int(FUTEX_WAKE)
        self._one = ctypes.c_uint(1)
        self._zero = ctypes.c_int(0)
        self._timeout = _Timespec(WAIT_TIMEOUT_NS // 10**9, WAIT_TIMEOUT_NS % 10**9)
        self._timeout_ref = ctypes.byref(self._timeout)

    def wait(self, address, expected: int) -> None:
        """Sleep while the word at `address` (a c_void_p) holds `expected`:
        until woken, 100 ms, or a signal. The kernel checks the value itself,
        so no wake-up is lost."""
        self._syscall(self._nr, address, self._wait_op, ctypes.c_uint(expected),
                      self._timeout_ref, None, self._zero)

    def wake(self, address) -> None:
        self._syscall(self._nr, address, self._wake_op, self._one, None, None, self._zero)


def shm_path(address: str) -> str:
    name = address[1:]
    if not address.startswith("/") or not name or "/" in name or name in (".", ".."):
        raise UsageError(f"shm address must be a POSIX shm name like /interop-spectrum-1-x, "
                         f"got {address!r}")
    return "/dev/shm/" + name


class Layout:
    """What the header says: wait mode, spin budget, slots, first call number,
    and the frame capacities with the strides and offsets they make."""

    __slots__ = ("wait", "budget", "slots", "first", "req_cap", "rep_cap", "req_stride",
                 "rep_stride", "replies")

    def __init__(self, wait, budget, slots, first, req_cap, rep_cap):
        self.wait, self.budget, self.slots, self.first = wait, budget, slots, first
        self.req_cap, self.rep_cap = req_cap, rep_cap
        self.req_stride, self.rep_stride = stride(req_cap), stride(rep_cap)
        self.replies = replies_offset(slots, req_cap)


def check_header(mm) -> Layout:
    """The segment's layout; UsageError if the header is not ours, or the
    segment is too small for what it says."""
    magic, version, wait, req_cap, rep_cap, budget, slots, first = _SEGMENT_HEADER.unpack_from(mm, 0)
    if magic != SHM_MAGIC or version != SHM_VERSION:
        raise UsageError(f"shm segment has magic 0x{magic:08x} version {version}, "
                         f"expected 0x{SHM_MAGIC:08x} version {SHM_VERSION}")
    for what, cap in (("request", req_cap), ("reply", rep_cap)):
        if not MIN_CAP <= cap <= MAX_CAP or cap % 8:
            raise UsageError(f"shm segment has {what} frame capacity {cap}, expected a multiple "
                             f"of 8 from {MIN_CAP} to {MAX_CAP}")
    if wait not in (WAIT_SPIN, WAIT_FUTEX):
        raise UsageError(f"shm segment has unknown wait mode {wait}")
    if not 1 <= slots <= MAX_SLOTS or slots & (slots - 1):
        raise UsageError(f"shm segment has {slots} slots, not a power of two up to {MAX_SLOTS}")
    need = segment_size(slots, req_cap, rep_cap)
    if len(mm) < need:
        raise UsageError(f"shm segment is {len(mm)} bytes, its {slots} slots of {req_cap}/{rep_cap} "
                         f"bytes need {need}")
    return Layout(wait, budget, slots, first, req_cap, rep_cap)


def run(address: str, codec: str, echo: bool, inflight: int = 1) -> int:
    if platform.machine() not in ("x86_64", "AMD64"):
        raise UsageError(f"the Python shm peer needs x86-64 memory ordering (TSO); "
                         f"this is {platform.machine()}")
    path = shm_path(address)
    prepare_codec(codec, echo)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError as e:
        raise PeerError(f"cannot open shm segment {path}: {e}") from None
    try:
        size = os.fstat(fd).st_size
        smallest = segment_size(1, MIN_CAP, MIN_CAP)  # the header is checked once mapped
        if size < smallest:
            raise UsageError(f"shm segment {path} is {size} bytes, expected at least {smallest}")
        mm = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
    finally:
        os.close(fd)
    try:
        layout = check_header(mm)
        announce(address)
        _serve(mm, layout, echo)
    finally:
        mm.close()
    return 0


class _Entry:
    """Call n's request and reply entries (n-1 mod S): where their words and
    frames are, as u32 indexes, offsets, memoryviews and futex addresses."""

    __slots__ = ("req_i", "sleeping_i", "rep_i", "req_slot", "rep_slot", "request", "reply",
                 "reply_ids", "reply_results", "req_word", "rep_word", "head_ok", "hot")

    def __init__(self, whole, base: int, req: int, rep: int, req_cap: int, rep_cap: int):
        self.req_i, self.sleeping_i, self.rep_i = req // 4, req // 4 + 1, rep // 4
        self.req_slot, self.rep_slot = req + ENTRY_HEADER, rep + ENTRY_HEADER
        # The frames' views bound what answer_frame reads and writes: a request
        # frame longer than its slot, or a reply longer than its own, is refused.
        self.request = whole[self.req_slot:self.req_slot + req_cap]
        self.reply = whole[self.rep_slot:self.rep_slot + rep_cap]
        self.reply_ids = whole[self.rep_slot + 8:self.rep_slot + 16].cast("Q")
        self.reply_results = whole[self.rep_slot + 24:self.rep_slot + 32].cast("q")
        self.req_word = ctypes.c_void_p(base + req)
        self.rep_word = ctypes.c_void_p(base + rep)
        self.head_ok = False  # does the reply frame hold an add reply's fixed header?
        # What the loops read per call, as one tuple: one unpack, not ten attribute loads.
        self.hot = (self.req_i, self.req_slot, self.rep_i, self.rep_slot, self.reply_ids,
                    self.reply_results, self.rep_word)

    def release(self) -> None:
        for view in (self.request, self.reply, self.reply_ids, self.reply_results):
            view.release()


def _serve(mm, layout: Layout, echo: bool) -> None:
    """Answer requests until a signal ends the process (SystemExit)."""
    whole = memoryview(mm)
    words = whole.cast("I")
    anchor = ctypes.c_char.from_buffer(mm)
    base = ctypes.addressof(anchor)
    del anchor  # an export: mm could not be closed while it lives
    entries = [_Entry(whole, base, REQUESTS + e * layout.req_stride,
                      layout.replies + e * layout.rep_stride, layout.req_cap, layout.rep_cap)
               for e in range(layout.slots)]
    sleep = wake = None
    if layout.wait == WAIT_FUTEX:
        futex = Futex()
        sleep = _sleeper(words, futex, layout.budget, layout.slots)
        wake = futex.wake
    try:
        if echo:
            _echo_loop(mm, words, entries, sleep, wake, layout.first,
                       min(layout.req_cap, layout.rep_cap))
        else:
            _loop(mm, words, entries, sleep, wake, layout.first)
    finally:
        for entry in entries:
            entry.release()
        words.release()
        whole.release()


def _sleeper(words, futex: Futex, budget: int, slots: int):
    """futex mode's wait for call n in `entry`: spin `budget` rounds, then
    sleep on the entry's seq (announced in its sleeping word) until it
    turns to n; returns n."""
    futex_wait = futex.wait

    def sleep(entry, n: int) -> int:
        req_i, sleeping_i = entry.req_i, entry.sleeping_i
        before = (n - slots) & _U32
        spins = budget
        seq = words[req_i]
        while seq != n and spins:
            seq = words[req_i]
            spins -= 1
        while seq != n:
            words[sleeping_i] = 1
            seq = words[req_i]  # once more: the harness may have published meanwhile
            if seq == before:
                futex_wait(entry.req_word, before)
                seq = words[req_i]
            words[sleeping_i] = 0
        return seq

    return sleep


def _loop(mm, words, entries, sleep, wake, n: int) -> None:
    """The benchmarked loop, call after call round the ring. Spin mode waits
    inline, in a tight load loop; an add request is answered inline (the
    reply's fixed header stays in its entry between add replies, so only id
    and result are written); anything else (a score, a batch, bad input) goes
    through raw_frame.answer_frame (JSON and protobuf frames too).
    With one slot (no calls in flight) the entry's fields stay in locals."""
    unpack_add = _ADD_REQUEST_HEAD.unpack_from
    pack_add_head = _ADD_REPLY.pack_into
    answer = raw_frame.answer_frame
    add = _add
    add_head = _ADD_REQUEST_FIRST_WORD
    mask = len(entries) - 1
    entry = entries[n & mask]
    req_i, req_slot, rep_i, rep_slot, reply_ids, reply_results, rep_word = entry.hot
    while True:
        n = (n + 1) & _U32
        if mask:
            entry = entries[(n - 1) & mask]
            req_i, req_slot, rep_i, rep_slot, reply_ids, reply_results, rep_word = entry.hot
        if words[req_i] != n:
            if sleep is None:
                while words[req_i] != n:
                    pass
            else:
                sleep(entry, n)
        head, rid, plen, x, y = unpack_add(mm, req_slot)
        if head == add_head and plen == 16:
            if not entry.head_ok:
                pack_add_head(mm, rep_slot, MAGIC, VERSION, KIND_ADD_REPLY, 0, 0, 8, 0, 0)
                entry.head_ok = True
            reply_ids[0] = rid
            reply_results[0] = add(x, y)
        else:
            answer(entry.request, entry.reply)
            entry.head_ok = False
        words[rep_i] = n
        if wake is not None:
            wake(rep_word)  # always: without a fence we cannot trust rep_sleeping


def _echo_loop(mm, words, entries, sleep, wake, n: int, cap: int) -> None:
    """--echo, the floor: the loop above with the request frame copied to the
    reply entry unchanged, inline (one memmove: mmap.move makes no slice
    objects). Only payload_len is read, and bounded by `cap`, the smaller of
    the two slots (so neither side of the copy leaves its entry), and, past
    MAX_PAYLOAD, by the frame's kind."""
    move = mm.move
    room = cap - HEADER_SIZE
    # Frames up to `fast` need no look at their kind: the common case, one test.
    fast = min(room, MAX_PAYLOAD)
    mask = len(entries) - 1
    entry = entries[n & mask]
    req_i, req_slot, rep_i, rep_slot, _, _, rep_word = entry.hot
    plen_i = (req_slot + 16) // 4
    while True:
        n = (n + 1) & _U32
        if mask:
            entry = entries[(n - 1) & mask]
            req_i, req_slot, rep_i, rep_slot, _, _, rep_word = entry.hot
            plen_i = (req_slot + 16) // 4
        if words[req_i] != n:
            if sleep is None:
                while words[req_i] != n:
                    pass
            else:
                sleep(entry, n)
        plen = words[plen_i]
        if plen <= fast or (plen <= room and plen <= raw_frame.max_payload(mm[req_slot + 5])):
            move(rep_slot, req_slot, HEADER_SIZE + plen)
        else:
            _refuse_oversized(entry.request, entry.reply, room)
        words[rep_i] = n
        if wake is not None:
            wake(rep_word)  # always: without a fence we cannot trust rep_sleeping


def _refuse_oversized(request, reply, room: int) -> None:
    """The error frame for a request frame that does not fit the slots, or
    is longer than its kind allows."""
    rid, plen = _ID_LEN.unpack_from(request, 8)
    if plen > room:
        message = f"payload_len {plen} does not fit the {len(reply)}-byte reply slot"
        if len(request) < len(reply):
            message = f"payload_len {plen} does not fit the {len(request)}-byte request slot"
    else:
        message = f"payload_len {plen} exceeds {raw_frame.max_payload(request[5])}"
    raw_frame.log(f"echo refused (id {rid}): {message}")
    error = raw_frame.encode_error(rid, message)
    reply[:len(error)] = error
