"""The raw binary frame (schemas/raw_frame.md) and the request loop shared by
the stream transports (unix, tcp, pipe).

The frame is the framing of every codec on a stream or in a shm slot
(raw_frame.md, "Other codecs in the frame"): a frame of kind 0x20 carries a
JSON request, 0x30 a serialized interop.v1.Request, and both are answered
whatever --codec says (the kind says which), with a frame of kind 0xA0 or
0xB0. Those codecs are imported on their first frame only, so a raw row
loads neither.

Batch frames (kind 0x10) are answered item by item with the very parse and
workload calls of a single request, so an item gets the bits its call would
get alone; an item that is wrong in itself gets an error item in its place.

The codec mirrors common/raw_frame.cc: little-endian, 24-byte header, bounded
payloads. `serve_stream` and `echo_stream` take the stream as two callables,
`readinto(memoryview) -> int` (0 at EOF) and `write(bytes-like)` (writes all of
it, before returning: the loops reuse their buffers), so every stream
transport runs the same loop.
"""

import os
import struct

from workload import add as _add, score as _score

MAGIC = 0x46505349  # b"ISPF" read as a little-endian u32
VERSION = 1
HEADER_SIZE = 24
MAX_PAYLOAD = 1052672  # 1 MiB + 4 KiB
MAX_FEATURES = 131072
MAX_MODEL_BYTES = 1024
MAX_ERROR_BYTES = 1024

KIND_ADD_REQUEST = 0x01
KIND_SCORE_REQUEST = 0x02
KIND_ADD_REPLY = 0x81
KIND_SCORE_REPLY = 0x82
KIND_ERROR = 0xFF
KIND_BATCH_REQUEST = 0x10
KIND_BATCH_REPLY = 0x90
# Batches: B calls in one frame (schemas/raw_frame.md, Batches).
MAX_BATCH_ITEMS = 100_000
MAX_BATCH_PAYLOAD = 16_777_216  # 16 MiB
# The other codecs in the frame (raw_frame.md, "Other codecs in the frame").
KIND_JSON_REQUEST = 0x20
KIND_JSON_REPLY = 0xA0
KIND_PROTOBUF_REQUEST = 0x30
KIND_PROTOBUF_REPLY = 0xB0
MAX_JSON_PAYLOAD = 4_194_304  # 4 MiB, MAX_JSON_BYTES
# The kinds whose payload_len may pass MAX_PAYLOAD, and their own bounds;
# every other kind is held to MAX_PAYLOAD.
_LARGE_BOUNDS = {
    KIND_BATCH_REQUEST: MAX_BATCH_PAYLOAD, KIND_BATCH_REPLY: MAX_BATCH_PAYLOAD,
    KIND_JSON_REQUEST: MAX_JSON_PAYLOAD, KIND_JSON_REPLY: MAX_JSON_PAYLOAD,
    KIND_PROTOBUF_REQUEST: MAX_BATCH_PAYLOAD, KIND_PROTOBUF_REPLY: MAX_BATCH_PAYLOAD,
}

# What serve_stream / echo_stream return.
STREAM_EOF = 0  # the other side closed between frames
STREAM_CLOSED = 3  # we closed because of bad input (pipe exits with this)

# magic u32, version u8, kind u8, reserved u16, id u64, payload_len u32, reserved u32
HEADER = struct.Struct("<IBBHQII")
_ADD_REQUEST_FRAME = struct.Struct("<IBBHQIIqq")
_ADD_REPLY_FRAME = struct.Struct("<IBBHQIIq")
_ADD_REPLY_TAIL = struct.Struct("<QIIq")  # id onwards; the first 8 bytes are fixed
_SCORE_REPLY_HEAD = struct.Struct("<IBBHQIIdII")  # the label follows
_SCORE_REQUEST_HEAD = struct.Struct("<II")  # n, model_len
_SCORE_REPLY_PAYLOAD = struct.Struct("<dII")  # score, label_len, reserved
_I64 = struct.Struct("<q")
_I64X2 = struct.Struct("<qq")
_ID_LEN = struct.Struct("<QI")  # id and payload_len, at header offset 8


class FrameError(ValueError):
    """A frame or payload that breaks schemas/raw_frame.md."""


def max_payload(kind: int) -> int:
    """The most payload_len may say for a frame of `kind`: MAX_BATCH_PAYLOAD
    for a batch or protobuf frame, MAX_JSON_PAYLOAD for a JSON one, and
    MAX_PAYLOAD for any other (raw_frame.md, Bounds; Other codecs)."""
    return _LARGE_BOUNDS.get(kind, MAX_PAYLOAD)


# ---------------------------------------------------------------- codec

def encode_header(kind: int, id: int, payload_len: int) -> bytes:
    return HEADER.pack(MAGIC, VERSION, kind, 0, id, payload_len, 0)


def decode_header(data, offset: int = 0) -> "tuple[int, int, int]":
    """(kind, id, payload_len); FrameError on bad magic/version or too long
    for its kind."""
    if len(data) - offset < HEADER_SIZE:
        raise FrameError("header shorter than 24 bytes")
    magic, version, kind, _, id, payload_len, _ = HEADER.unpack_from(data, offset)
    if magic != MAGIC or version != VERSION:
        raise FrameError("bad magic or version")
    if payload_len > MAX_PAYLOAD and payload_len > max_payload(kind):
        raise FrameError(f"payload_len {payload_len} exceeds {max_payload(kind)}")
    return kind, id, payload_len


def encode_add_request(id: int, x: int, y: int) -> bytes:
    return _ADD_REQUEST_FRAME.pack(MAGIC, VERSION, KIND_ADD_REQUEST, 0, id, 16, 0, x, y)


def encode_score_request(id: int, features, model: str) -> bytes:
    """`features`: a sequence of floats, or a buffer of little-endian f64."""
    try:
        feats = memoryview(features).cast("B")
    except TypeError:
        feats = struct.pack(f"<{len(features)}d", *features)
    if len(feats) % 8:
        raise FrameError("features buffer is not a whole number of doubles")
    m = model.encode("utf-8")
    n = len(feats) // 8
    return b"".join((encode_header(KIND_SCORE_REQUEST, id, 8 + len(feats) + len(m)),
                     _SCORE_REQUEST_HEAD.pack(n, len(m)), feats, m))


def encode_add_reply(id: int, result: int) -> bytes:
    return _ADD_REPLY_FRAME.pack(MAGIC, VERSION, KIND_ADD_REPLY, 0, id, 8, 0, result)


def encode_score_reply(id: int, score: float, label: str) -> bytes:
    lb = label.encode("utf-8")
    return _SCORE_REPLY_HEAD.pack(MAGIC, VERSION, KIND_SCORE_REPLY, 0, id, 16 + len(lb), 0,
                                  score, len(lb), 0) + lb


def error_bytes(message: str) -> bytes:
    """An error's message as a frame or a batch item carries it: UTF-8, cut
    to MAX_ERROR_BYTES."""
    return message.encode("utf-8")[:MAX_ERROR_BYTES]


def encode_error(id: int, message: str) -> bytes:
    m = error_bytes(message)
    return encode_header(KIND_ERROR, id, len(m)) + m


def parse_add_request(payload) -> "tuple[int, int]":
    if len(payload) != 16:
        raise FrameError("add request payload must be 16 bytes")
    return _I64X2.unpack(payload)


def score_call(payload) -> "tuple[float, str]":
    """A score request's payload parsed and scored, its features' view
    released however it ends (FrameError for a bad payload)."""
    features, model = parse_score_request(payload)
    try:
        return _score(features, model)
    finally:
        features.release()


def parse_score_request(payload) -> "tuple[memoryview, str]":
    """(features as a zero-copy memoryview of doubles, model)."""
    mv = memoryview(payload).cast("B")
    size = len(mv)
    if size < 8:
        raise FrameError("score request payload shorter than 8 bytes")
    n, model_len = _SCORE_REQUEST_HEAD.unpack_from(mv)
    if n > MAX_FEATURES:
        raise FrameError("score request has more than 131072 features")
    if model_len > MAX_MODEL_BYTES:
        raise FrameError("score request model name longer than 1024 bytes")
    end = 8 + 8 * n
    if size != end + model_len:
        raise FrameError("score request payload size does not match n and model_len")
    try:
        model = str(mv[end:], "utf-8")
    except UnicodeDecodeError:
        raise FrameError("score request model name is not valid UTF-8") from None
    return mv[8:end].cast("d"), model


def parse_add_reply(payload) -> int:
    if len(payload) != 8:
        raise FrameError("add reply payload must be 8 bytes")
    return _I64.unpack(payload)[0]


def parse_score_reply(payload) -> "tuple[float, str]":
    mv = memoryview(payload).cast("B")
    if len(mv) < 16:
        raise FrameError("score reply payload shorter than 16 bytes")
    score, label_len, _ = _SCORE_REPLY_PAYLOAD.unpack_from(mv)
    if len(mv) != 16 + label_len:
        raise FrameError("score reply payload size does not match label_len")
    return score, str(mv[16:], "utf-8")


def parse_error(payload) -> str:
    return bytes(payload).decode("utf-8", "replace")


_BATCH_HEAD = struct.Struct("<II")  # count, reserved
_ITEM_HEAD = struct.Struct("<BBHI")  # kind, reserved, reserved, len


def encode_batch(kind: int, id: int, items) -> bytes:
    """A batch frame (KIND_BATCH_REQUEST or KIND_BATCH_REPLY) of `items`,
    each (item kind, payload bytes) as that kind's own frame would carry it,
    padded with zeros to a multiple of 8."""
    body = bytearray(_BATCH_HEAD.pack(len(items), 0))
    for item_kind, payload in items:
        body += _ITEM_HEAD.pack(item_kind, 0, 0, len(payload))
        body += payload
        body += bytes(-len(payload) % 8)
    return encode_header(kind, id, len(body)) + bytes(body)


def payload_of(frame: bytes) -> bytes:
    """The payload of one encoded frame: what a batch item of its kind holds."""
    return frame[HEADER_SIZE:]


def parse_batch(payload) -> "list[tuple[int, memoryview]]":
    """The items of a batch payload as (kind, payload view), after checking
    its shape (count in bounds, every item inside, nothing left over);
    FrameError refuses the batch as a whole. Items are not checked in
    themselves: that is each kind's parse_*."""
    mv = memoryview(payload).cast("B")
    size = len(mv)
    if size > MAX_BATCH_PAYLOAD:
        raise FrameError(f"batch payload longer than {MAX_BATCH_PAYLOAD} bytes")
    if size < 8:
        raise FrameError("batch payload shorter than 8 bytes")
    count, _ = _BATCH_HEAD.unpack_from(mv)
    if not 1 <= count <= MAX_BATCH_ITEMS:
        raise FrameError(f"batch count {count} not in 1..{MAX_BATCH_ITEMS}")
    items = []
    at = 8
    for i in range(count):
        if size - at < _ITEM_HEAD.size:
            raise FrameError(f"batch item {i} overruns the payload")
        kind, _, _, length = _ITEM_HEAD.unpack_from(mv, at)
        start = at + _ITEM_HEAD.size
        if size - start < length + (-length % 8):
            raise FrameError(f"batch item {i} overruns the payload")
        items.append((kind, mv[start:start + length]))
        at = start + length + (-length % 8)
    if at != size:
        raise FrameError(f"{size - at} bytes after the last batch item")
    return items


# A batch reply's items as they are written: an add reply item whole (8-byte
# payload, no padding), and a score reply item's head (its label follows).
_ADD_REPLY_ITEM = struct.Struct("<BBHIq")
_SCORE_REPLY_ITEM_HEAD = struct.Struct("<BBHIdII")
_PADDING = tuple(bytes(-k % 8) for k in range(8))  # zeros after k bytes, by k mod 8


def _answer_item(out: bytearray, kind: int, payload) -> "str | None":
    """Appends to `out` the reply item to one batch item: what its call gets
    as a frame of its own (parse_*, then the workload), or an error item.
    Returns the error's message, None if the call was answered."""
    try:
        if kind == KIND_ADD_REQUEST:
            x, y = parse_add_request(payload)
            out += _ADD_REPLY_ITEM.pack(KIND_ADD_REPLY, 0, 0, 8, _add(x, y))
            return None
        if kind == KIND_SCORE_REQUEST:
            s, label = score_call(payload)
            lb = _LABELS.get(label) or label.encode("utf-8")
            out += _SCORE_REPLY_ITEM_HEAD.pack(KIND_SCORE_REPLY, 0, 0, 16 + len(lb), s, len(lb), 0)
            out += lb
            out += _PADDING[len(lb) % 8]
            return None
        raise FrameError("unknown request kind in a batch item")
    except FrameError as e:
        message = str(e)
        m = error_bytes(message)
        out += _ITEM_HEAD.pack(KIND_ERROR, 0, 0, len(m))
        out += m
        out += _PADDING[len(m) % 8]
        return message


def answer_batch(id: int, payload) -> bytearray:
    """The whole reply frame to a batch request frame with this id and
    payload: a batch reply (kind 0x90) with item i answering item i, or, when
    the batch's shape is wrong, one error frame. Logs one line for a refused
    batch, and one per batch with wrong items (not one per item: a batch of
    100,000 wrong items would flood stderr)."""
    try:
        items = parse_batch(payload)
    except FrameError as e:
        log(f"bad request (id {id}): {e}")
        return bytearray(encode_error(id, str(e)))
    out = bytearray(HEADER_SIZE)
    out += _BATCH_HEAD.pack(len(items), 0)
    wrong, first = 0, None
    answer = _answer_item
    try:
        for i, (kind, item) in enumerate(items):
            message = answer(out, kind, item)
            if message is not None:
                if not wrong:
                    first = f"item {i}: {message}"
                wrong += 1
    finally:
        for _, item in items:  # views of the caller's buffer (an shm slot, say)
            item.release()
    if wrong:
        log(f"bad batch items (id {id}): {wrong} of {len(items)}; the first, {first}")
    plen = len(out) - HEADER_SIZE
    if plen > MAX_BATCH_PAYLOAD:  # cannot happen with our short messages; bounded all the same
        log(f"bad request (id {id}): batch reply longer than {MAX_BATCH_PAYLOAD} bytes")
        return bytearray(encode_error(id, f"batch reply longer than {MAX_BATCH_PAYLOAD} bytes"))
    HEADER.pack_into(out, 0, MAGIC, VERSION, KIND_BATCH_REPLY, 0, id, plen, 0)
    return out


# ---------------------------------------------------------------- serving

def log(message: str) -> None:
    """One line on stderr, in one write so threads do not interleave."""
    line = f"python-peer[{os.getpid()}]: {message}".replace("\n", " ") + "\n"
    try:
        os.write(2, line.encode("utf-8", "replace"))
    except OSError:
        pass


def _fill(readinto, mv, have: int, need: int) -> bool:
    """Read until mv[:need] is full, mv[:have] being full already; False at EOF."""
    while have < need:
        got = readinto(mv[have:need])
        if not got:
            return False
        have += got
    return True


def _refuse(write, id: int, message: str) -> None:
    log(f"bad request (id {id}): {message}")
    write(encode_error(id, message))


_INITIAL_BUFFER = HEADER_SIZE + 64 * 1024
_FULL_BUFFER = HEADER_SIZE + MAX_PAYLOAD
_LABELS = {"fraud": b"fraud", "legit": b"legit"}


def _too_long(kind: int, plen: int) -> bool:
    """Is payload_len above its kind's bound? Only asked once plen > MAX_PAYLOAD,
    so single calls pay one comparison for it, as before batches."""
    return plen > _LARGE_BOUNDS.get(kind, MAX_PAYLOAD)


def _grow(buf: bytearray, need: int) -> bytearray:
    """A bigger buffer holding buf's header: doubling up to one whole single
    frame, and exactly `need` past that (a batch frame, itself bounded)."""
    new = bytearray(max(need, min(2 * len(buf), _FULL_BUFFER)))
    new[:HEADER_SIZE] = buf[:HEADER_SIZE]
    return new


def serve_stream(readinto, write) -> int:
    """Answer add, score and batch requests, and JSON and protobuf messages
    (kinds 0x20, 0x30), until EOF or a frame that ends the stream.

    Returns STREAM_EOF when the other side closed between frames, STREAM_CLOSED
    when bad input (bad magic/version, payload_len too long for its kind, EOF
    inside a frame) means the stream must be closed. Bad payloads get an error
    reply and the loop goes on; so does a batch of the wrong shape.
    """
    buf = bytearray(_INITIAL_BUFFER)
    size = len(buf)
    mv = memoryview(buf)
    hmv = mv[:HEADER_SIZE]
    add_mv = mv[HEADER_SIZE:HEADER_SIZE + 16]
    # Reply buffers, reused: the add reply's fixed bytes are written once.
    add_reply = bytearray(HEADER_SIZE + 8)
    HEADER.pack_into(add_reply, 0, MAGIC, VERSION, KIND_ADD_REPLY, 0, 0, 8, 0)
    score_reply = bytearray(HEADER_SIZE + 16 + 64)
    smv = memoryview(score_reply)
    unpack_header = HEADER.unpack_from
    unpack_xy = _I64X2.unpack_from
    pack_add_reply = _ADD_REPLY_TAIL.pack_into
    pack_score_reply = _SCORE_REPLY_HEAD.pack_into
    unpack_score_head = _SCORE_REQUEST_HEAD.unpack_from
    add = _add
    score = _score

    while True:
        got = readinto(hmv)
        if got != HEADER_SIZE:
            if not got:
                return STREAM_EOF
            if not _fill(readinto, mv, got, HEADER_SIZE):
                log("EOF in the middle of a frame header; closing")
                return STREAM_CLOSED
        magic, version, kind, _, rid, plen, _ = unpack_header(buf)
        if magic != MAGIC or version != VERSION:
            _refuse(write, 0, "bad magic or version")
            return STREAM_CLOSED
        if plen > MAX_PAYLOAD and _too_long(kind, plen):  # before anything is read or allocated
            _refuse(write, rid, f"payload_len {plen} exceeds {max_payload(kind)}")
            return STREAM_CLOSED

        if kind == KIND_ADD_REQUEST and plen == 16:  # the hot path
            got = readinto(add_mv)
            if got != 16 and (not got or not _fill(readinto, mv, HEADER_SIZE + got, HEADER_SIZE + 16)):
                log("EOF in the middle of a frame payload; closing")
                return STREAM_CLOSED
            x, y = unpack_xy(buf, HEADER_SIZE)
            pack_add_reply(add_reply, 8, rid, 8, 0, add(x, y))
            write(add_reply)
            continue

        end = HEADER_SIZE + plen
        if end > size:
            buf = _grow(buf, end)
            size = len(buf)
            mv = memoryview(buf)
            hmv = mv[:HEADER_SIZE]
            add_mv = mv[HEADER_SIZE:HEADER_SIZE + 16]
        if plen and not _fill(readinto, mv, HEADER_SIZE, end):
            log("EOF in the middle of a frame payload; closing")
            return STREAM_CLOSED

        if kind == KIND_SCORE_REQUEST:
            if plen < 8:
                _refuse(write, rid, "score request payload shorter than 8 bytes")
                continue
            n, model_len = unpack_score_head(buf, HEADER_SIZE)
            if n > MAX_FEATURES:
                _refuse(write, rid, "score request has more than 131072 features")
                continue
            if model_len > MAX_MODEL_BYTES:
                _refuse(write, rid, "score request model name longer than 1024 bytes")
                continue
            fend = HEADER_SIZE + 8 + 8 * n
            if end != fend + model_len:
                _refuse(write, rid, "score request payload size does not match n and model_len")
                continue
            try:
                model = str(mv[fend:end], "utf-8")
            except UnicodeDecodeError:
                _refuse(write, rid, "score request model name is not valid UTF-8")
                continue
            # Zero-copy: features start at frame offset 32, 8-byte aligned.
            features = mv[HEADER_SIZE + 8:fend].cast("d")
            try:
                s, label = score(features, model)
            finally:
                features.release()
            lb = _LABELS.get(label)
            if lb is None:
                write(encode_score_reply(rid, s, label))
                continue
            rlen = HEADER_SIZE + 16 + len(lb)
            pack_score_reply(score_reply, 0, MAGIC, VERSION, KIND_SCORE_REPLY, 0, rid,
                             16 + len(lb), 0, s, len(lb), 0)
            smv[HEADER_SIZE + 16:rlen] = lb
            write(smv[:rlen])
        elif kind == KIND_BATCH_REQUEST:
            write(answer_batch(rid, mv[HEADER_SIZE:end]))
        elif kind == KIND_JSON_REQUEST or kind == KIND_PROTOBUF_REQUEST:
            write(answer_codec_frame(kind, rid, mv[HEADER_SIZE:end]))
        elif kind == KIND_ADD_REQUEST:
            _refuse(write, rid, "add request payload must be 16 bytes")
        else:
            _refuse(write, rid, f"unknown kind 0x{kind:02x}")


def answer_codec_frame(kind: int, id: int, payload) -> bytes:
    """The reply frame to a JSON (0x20) or protobuf (0x30) request frame with
    this id: a frame of kind 0xA0 holding json_message's answer to the body,
    or 0xB0 holding a serialized Reply (raw_frame.md, Other codecs in the
    frame). A message that does not parse or breaks a bound gets its codec's
    error reply, with the header's id when it has none of its own. Only what
    no codec can answer (the protobuf code not built, a bug) gets a raw error
    frame; the caller's stream goes on in every case."""
    try:
        if kind == KIND_JSON_REQUEST:
            import json_message as codec
            reply_kind, bound = KIND_JSON_REPLY, MAX_JSON_PAYLOAD
        else:
            import protobuf_message as codec
            reply_kind, bound = KIND_PROTOBUF_REPLY, MAX_BATCH_PAYLOAD
        body, problem = codec.answer_message(payload, id)
        if problem is not None:
            log(f"bad request (id {id}): {problem}")
        if len(body) > bound:  # a huge batch of error items; bounded like any reply
            message = f"the reply is longer than {bound} bytes"
            log(f"bad request (id {id}): {message}")
            body, _ = codec.refusal(id, message)
    except Exception as e:  # not one caller's stream may end for it
        log(f"cannot answer a frame of kind 0x{kind:02x} (id {id}): {e!r}")
        return encode_error(id, f"cannot answer a frame of kind 0x{kind:02x}: {e}")
    return encode_header(reply_kind, id, len(body)) + body


def answer_payload(kind: int, id: int, payload) -> bytes:
    """The reply frame to a request frame of `kind` and `id` whose payload,
    read whole and within its kind's bound, is `payload`: what serve_stream
    answers, an error frame for bad input (logged)."""
    try:
        if kind == KIND_ADD_REQUEST:
            x, y = parse_add_request(payload)
            return encode_add_reply(id, _add(x, y))
        if kind == KIND_SCORE_REQUEST:
            s, label = score_call(payload)
            return encode_score_reply(id, s, label)
        if kind == KIND_BATCH_REQUEST:
            return answer_batch(id, payload)
        if kind == KIND_JSON_REQUEST or kind == KIND_PROTOBUF_REQUEST:
            return answer_codec_frame(kind, id, payload)
        raise FrameError(f"unknown kind 0x{kind:02x}")
    except FrameError as e:
        log(f"bad request (id {id}): {e}")
        return encode_error(id, str(e))


def answer_frame(frame, out) -> int:
    """Answer the one request frame at the start of `frame` (a buffer that may
    be longer than the frame, and bounds it) by writing the reply frame at the
    start of `out` (writable, at least REPLY_CAPACITY bytes); returns the
    reply's length.

    For transports that hand over whole frames in memory (shm). Bad input gets
    an error frame, as on a stream (id 0 for a bad magic or version) and one
    line on stderr. Score features are read in place, without a copy. A reply
    longer than `out` (a batch's) is replaced by an error frame saying so.
    """
    mv = memoryview(frame).cast("B")
    payload = None
    try:
        if len(mv) < HEADER_SIZE:
            reply = encode_error(0, "frame shorter than its 24-byte header")
            log("bad request (id 0): frame shorter than its header")
            return _put(out, reply)
        magic, version, kind, _, rid, plen, _ = HEADER.unpack_from(mv)
        if magic != MAGIC or version != VERSION:
            log("bad request (id 0): bad magic or version")
            return _put(out, encode_error(0, "bad magic or version"))
        bound = MAX_PAYLOAD if plen <= MAX_PAYLOAD else max_payload(kind)
        if plen > bound or HEADER_SIZE + plen > len(mv):
            message = f"payload_len {plen} exceeds {min(bound, len(mv) - HEADER_SIZE)}"
            log(f"bad request (id {rid}): {message}")
            return _put(out, encode_error(rid, message))
        payload = mv[HEADER_SIZE:HEADER_SIZE + plen]
        return _put(out, answer_payload(kind, rid, payload), rid)
    finally:
        if payload is not None:
            payload.release()
        mv.release()


def answer_message(data, fallback_id: "int | None" = None) -> "bytes | None":
    """The reply frame to `data`, one whole raw frame standing alone (a Redis
    value or a file with --codec=raw: json_transports.md, Other codecs on
    Redis and files), answered as on a stream: single calls, batches, and the
    JSON and protobuf kinds. Bad input gets an error frame with the header's
    id; when there is no header to trust (too short, bad magic or version),
    with `fallback_id` (a file's name gives one), or None (logged: nowhere
    to reply)."""
    mv = memoryview(data).cast("B")
    payload = None
    try:
        size = len(mv)
        if size < HEADER_SIZE or HEADER.unpack_from(mv)[:2] != (MAGIC, VERSION):
            message = ("shorter than a 24-byte frame header" if size < HEADER_SIZE
                       else "bad magic or version")
            if fallback_id is None:
                log(f"dropped a request: {message}")
                return None
            log(f"bad request (id {fallback_id}): {message}")
            return encode_error(fallback_id, message)
        _, _, kind, _, rid, plen, _ = HEADER.unpack_from(mv)
        if plen > max_payload(kind):
            message = f"payload_len {plen} exceeds {max_payload(kind)}"
        elif HEADER_SIZE + plen != size:
            message = f"the message is {size} bytes, its frame {HEADER_SIZE + plen}"
        else:
            payload = mv[HEADER_SIZE:]
            return bytes(answer_payload(kind, rid, payload))
        log(f"bad request (id {rid}): {message}")
        return encode_error(rid, message)
    finally:
        if payload is not None:
            payload.release()
        mv.release()


# The longest single reply answer_frame writes: an error frame with a full
# message. A batch reply can be longer; one that does not fit `out` is refused.
REPLY_CAPACITY = HEADER_SIZE + MAX_ERROR_BYTES
NO_ROOM = "the reply does not fit the reply slot"


def _put(out, reply, id: int = 0) -> int:
    """Copies `reply` to the start of `out`; one that does not fit (a batch
    reply of mostly error items, shm_layout.md) becomes an error frame."""
    n = len(reply)
    if n > len(out):
        log(f"bad reply (id {id}): {n} bytes; {NO_ROOM} of {len(out)} bytes")
        reply = encode_error(id, NO_ROOM)
        n = len(reply)
    out[:n] = reply
    return n


def echo_stream(readinto, write) -> int:
    """--echo, the floor: write every frame back unchanged, without decoding it.

    Only payload_len is looked at (and bounded, by the kind byte as
    serve_stream does) to know where a frame ends. Returns like serve_stream.
    """
    buf = bytearray(_INITIAL_BUFFER)
    size = len(buf)
    mv = memoryview(buf)
    hmv = mv[:HEADER_SIZE]
    unpack_id_len = _ID_LEN.unpack_from

    while True:
        got = readinto(hmv)
        if got != HEADER_SIZE:
            if not got:
                return STREAM_EOF
            if not _fill(readinto, mv, got, HEADER_SIZE):
                log("EOF in the middle of a frame header; closing")
                return STREAM_CLOSED
        rid, plen = unpack_id_len(buf, 8)
        if plen > MAX_PAYLOAD and _too_long(buf[5], plen):
            _refuse(write, rid, f"payload_len {plen} exceeds {max_payload(buf[5])}")
            return STREAM_CLOSED
        end = HEADER_SIZE + plen
        if end > size:
            buf = _grow(buf, end)
            size = len(buf)
            mv = memoryview(buf)
            hmv = mv[:HEADER_SIZE]
        if plen:
            got = readinto(mv[HEADER_SIZE:end])
            if got != plen and (not got or not _fill(readinto, mv, HEADER_SIZE + got, end)):
                log("EOF in the middle of a frame payload; closing")
                return STREAM_CLOSED
        write(mv[:end])
