"""The JSON messages of the rest, redis and file tiers (schemas/json_transports.md,
schemas/interop.schema.json): checks, the workload call, the reply bytes.

Requests are bounded before anything is computed: at most MAX_JSON_BYTES of
JSON, MAX_FEATURES features, a model of at most MAX_MODEL_BYTES UTF-8 bytes,
x and y within int64, id within uint64. Floats are written with repr(), which
is shortest-round-trip, so the reader parses the very bits we computed.

Feature items are not checked one by one (that would cost more than the
score): the score itself raises TypeError on a string, null, list or object,
and OverflowError on an integer too large for a double, and both are turned
into an error reply here. Like pydantic's lax float, true and false count as
1 and 0.
"""

import json
import math

from raw_frame import MAX_BATCH_ITEMS, MAX_ERROR_BYTES, MAX_FEATURES, MAX_MODEL_BYTES
from workload import add as _add, score as _score

MAX_JSON_BYTES = 4194304  # 4 MiB
INT64_MIN = -0x8000000000000000
INT64_MAX = 0x7FFFFFFFFFFFFFFF
UINT64_MAX = 0xFFFFFFFFFFFFFFFF
OPS = ("add", "score")


class MessageError(ValueError):
    """A request that breaks the JSON contract; its text goes in the error reply."""


def _no_constant(name):
    raise MessageError(f"{name} is not valid JSON")


_decode = json.JSONDecoder(parse_constant=_no_constant).decode


def decode(data) -> dict:
    """The request object from JSON bytes (UTF-8) or str; MessageError if it
    is too long, not JSON, or not an object."""
    if len(data) > MAX_JSON_BYTES:
        raise MessageError(f"request is longer than {MAX_JSON_BYTES} bytes")
    try:
        if not isinstance(data, str):
            data = str(data, "utf-8")
        msg = _decode(data)
    except UnicodeDecodeError:
        raise MessageError("request is not valid UTF-8") from None
    except RecursionError:
        raise MessageError("request JSON is nested too deeply") from None
    except ValueError as e:  # json.JSONDecodeError, or MessageError from _no_constant
        raise MessageError(f"malformed JSON: {e}") from None
    if type(msg) is not dict:
        raise MessageError("request is not a JSON object")
    return msg


# ---------------------------------------------------------------- field checks

def check_id(value) -> int:
    if type(value) is not int or not 0 <= value <= UINT64_MAX:
        raise MessageError("id must be an integer within uint64")
    return value


def request_id(msg) -> "int | None":
    """The request's id if it has a valid one (for error replies), else None."""
    value = msg.get("id") if type(msg) is dict else None
    if type(value) is int and 0 <= value <= UINT64_MAX:
        return value
    return None


def check_int64(name: str, value) -> int:
    if type(value) is not int or not INT64_MIN <= value <= INT64_MAX:
        raise MessageError(f"{name} must be an integer within int64")
    return value


def check_features(value) -> list:
    if type(value) is not list:
        raise MessageError("features must be an array of numbers")
    if len(value) > MAX_FEATURES:
        raise MessageError(f"more than {MAX_FEATURES} features")
    return value


def check_model(value) -> str:
    if type(value) is not str:
        raise MessageError("model must be a string")
    # A character is at most 4 UTF-8 bytes: short names need no encoding.
    if len(value) > MAX_MODEL_BYTES // 4:
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:  # a lone surrogate, e.g. "\ud800"
            raise MessageError("model is not valid Unicode") from None
        if size > MAX_MODEL_BYTES:
            raise MessageError(f"model is longer than {MAX_MODEL_BYTES} UTF-8 bytes")
    return value


# ---------------------------------------------------------------- replies

def _add_fields(x: int, y: int) -> bytes:
    return b'"result":%d' % _add(x, y)


def _score_fields(features, model: str) -> bytes:
    try:
        s, label = _score(features, model)
    except TypeError:
        raise MessageError("features must be an array of numbers") from None
    except OverflowError:
        raise MessageError("a feature is too large for a double") from None
    if not math.isfinite(s):  # NaN from inf - inf; JSON cannot carry it
        raise MessageError("score is not a finite number (features overflow)")
    return b'"score":%s,"label":"%s"' % (repr(s).encode(), label.encode())


def add_reply(id: int, x: int, y: int) -> bytes:
    """{"id":..,"result":..}: x + y wrapped like int64 (workload.add)."""
    return b'{"id":%d,%s}' % (id, _add_fields(x, y))


def score_reply(id: int, features, model: str) -> bytes:
    """{"id":..,"score":..,"label":..}; MessageError for non-numeric features."""
    return b'{"id":%d,%s}' % (id, _score_fields(features, model))


def _error_text(message: str) -> str:
    """The message cut to 1024 UTF-8 bytes."""
    return message.encode("utf-8", "replace")[:MAX_ERROR_BYTES].decode("utf-8", "ignore")


def error_reply(id, message: str) -> bytes:
    """{"id": id or null, "error": message}; the message is cut to 1024 bytes."""
    return json.dumps({"id": id, "error": _error_text(message)}, separators=(",", ":")).encode()


def _call_fields(msg: dict, op: str) -> bytes:
    try:
        if op == "add":
            return _add_fields(check_int64("x", msg["x"]), check_int64("y", msg["y"]))
        return _score_fields(check_features(msg["features"]), check_model(msg["model"]))
    except KeyError as e:
        raise MessageError(f"missing field {e.args[0]!r}") from None


def answer_batch(id: int, msg: dict) -> bytes:
    """{"id":..,"items":[..]} for {"op":"batch","items":[..]}: one reply item
    per item, in order, a bad call being that item's {"error":..}; a wrong
    shape (not a list of 1..MAX_BATCH_ITEMS objects) refuses the whole batch."""
    items = msg.get("items")
    if type(items) is not list or not 1 <= len(items) <= MAX_BATCH_ITEMS:
        raise MessageError(f"items must be an array of 1 to {MAX_BATCH_ITEMS} calls")
    if any(type(item) is not dict for item in items):
        raise MessageError("every batch item must be a JSON object")
    parts = []
    for item in items:
        try:
            op = item.get("op")
            if op not in OPS:
                raise MessageError('op must be "add" or "score"')
            parts.append(b"{%s}" % _call_fields(item, op))
        except MessageError as e:
            parts.append(json.dumps({"error": _error_text(str(e))}, separators=(",", ":")).encode())
    return b'{"id":%d,"items":[%s]}' % (id, b",".join(parts))


def answer(msg: dict, op: "str | None" = None) -> bytes:
    """The reply to a decoded request. `op` is the operation when the transport
    implies it (REST's path); otherwise the request's "op" field says it, and
    may say "batch" (json_transports.md, Batches). MessageError on a missing
    or bad field."""
    if op is None:
        op = msg.get("op")
        if op == "batch":
            return answer_batch(check_id(msg.get("id")), msg)
        if op not in OPS:
            raise MessageError('op must be "add", "score" or "batch"')
    elif "op" in msg and msg["op"] != op:
        raise MessageError(f'op must be "{op}" here')
    try:
        id = check_id(msg["id"])
    except KeyError as e:
        raise MessageError(f"missing field {e.args[0]!r}") from None
    return b'{"id":%d,%s}' % (id, _call_fields(msg, op))


def respond(data, op: "str | None" = None) -> bytes:
    """Reply bytes for request bytes, an error reply for bad ones (never raises
    MessageError)."""
    msg = None
    try:
        msg = decode(data)
        return answer(msg, op)
    except MessageError as e:
        return error_reply(request_id(msg), str(e))


def answer_message(data, fallback_id: "int | None" = None) -> "tuple[bytes, str | None]":
    """(reply bytes, None) for a request whose body says its op (a frame of
    kind 0x20: raw_frame.md, Other codecs in the frame), or (error reply,
    why) for a bad one, whose id is the request's own if it has a usable one,
    else `fallback_id` (the frame header's). Never raises MessageError."""
    msg = None
    try:
        msg = decode(data)
        return answer(msg), None
    except MessageError as e:
        id = request_id(msg)
        return error_reply(fallback_id if id is None else id, str(e)), str(e)


def refusal(id, message: str) -> "tuple[bytes, str]":
    """(error reply, message): what answer_message gives for a refused request."""
    return error_reply(id, message), message
