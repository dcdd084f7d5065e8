"""The protobuf codec (schemas/interop.proto) on the peer's side: a Request
answered as a Reply. Shared by the gRPC server (unary Batch and the Stream
RPC) and every tier that carries bytes with the protobuf codec: frames of
kind 0x30 on a stream or in a shm slot, Redis values and .pb files
(raw_frame.md "Other codecs in the frame"; json_transports.md "Other codecs
on Redis and files"). It mirrors the C++ peer's
transports/codec/protobuf_messages.cc, so both answer a message with the
same bytes (schemas/test_vectors.json, `codecs`):

  add     Reply{add: AddReply{id, result}, id}
  score   Reply{score: ScoreReply{id, score, label}, id}
  batch   Reply{batch: BatchReply{id, items: [Reply{add|score|error}]}, id}
          (items carry no ids: their place is their identity)
  bad     Reply{error, id}

The generated code (interop_pb2.py) is made by the build in
$INTEROP_GENERATED_DIR/python, by default <repo>/build/generated/python; it
is imported on first use, so a peer that never meets a protobuf message
needs neither it nor the protobuf runtime.
"""

import os
import sys
from pathlib import Path

import raw_frame
from raw_frame import MAX_BATCH_ITEMS, MAX_BATCH_PAYLOAD, MAX_ERROR_BYTES, MAX_FEATURES, MAX_MODEL_BYTES
from transports import PeerError
from workload import add as _add, score as _score

# A protobuf message alone (a Redis value, a file) or in a frame (kind 0x30)
# is at most this long, and so is its reply.
MAX_MESSAGE_BYTES = MAX_BATCH_PAYLOAD

_REPO = Path(__file__).resolve().parents[2]


def generated_dir() -> Path:
    base = os.environ.get("INTEROP_GENERATED_DIR") or str(_REPO / "build" / "generated")
    return Path(base) / "python"


_pb2 = None


def load():
    """interop_pb2, from the build's generated code (imported once);
    PeerError if it is not there or does not import."""
    global _pb2
    if _pb2 is None:
        where = generated_dir()
        if not (where / "interop_pb2.py").is_file():
            raise PeerError(f"no generated protobuf code in {where} (build the project first, "
                            "or set INTEROP_GENERATED_DIR)")
        if str(where) not in sys.path:
            sys.path.insert(0, str(where))
        try:
            import interop_pb2
        except ImportError as e:  # the protobuf runtime missing, or too old for the code
            raise PeerError(f"cannot import the generated protobuf code in {where}: {e}") from None
        _pb2 = interop_pb2
    return _pb2


# ---------------------------------------------------------------- checks

def check_score(request) -> "str | None":
    """Why a ScoreRequest is refused, or None if it is within bounds. (Its
    model is valid UTF-8: the parser refuses a message whose is not.)"""
    if len(request.features) > MAX_FEATURES:
        return f"more than {MAX_FEATURES} features"
    model = request.model
    # A character is at most 4 UTF-8 bytes: short names need no encoding.
    if len(model) > MAX_MODEL_BYTES // 4 and len(model.encode("utf-8")) > MAX_MODEL_BYTES:
        return f"model is longer than {MAX_MODEL_BYTES} UTF-8 bytes"
    return None


def check_batch(request) -> "str | None":
    """Why a BatchRequest is refused as a whole (its shape), or None."""
    if not 1 <= len(request.items) <= MAX_BATCH_ITEMS:
        return f"a batch has 1 to {MAX_BATCH_ITEMS} items, not {len(request.items)}"
    return None


def _error_text(message: str) -> str:
    """The message cut to MAX_ERROR_BYTES of UTF-8, as every codec's errors are."""
    if len(message) <= MAX_ERROR_BYTES // 4:
        return message
    return message.encode("utf-8", "replace")[:MAX_ERROR_BYTES].decode("utf-8", "ignore")


# ---------------------------------------------------------------- answers

def answer_batch(request, reply) -> None:
    """Fills `reply` (an empty BatchReply; on the stream, the Reply's own, so
    a big batch is not copied) for a BatchRequest of the right shape: item i
    answers item i with the workload call (and bounds) of a single Add or
    Score; an item that is neither, or a batch, or out of bounds, gets an
    error item. Items carry no id (0). One stderr line per batch with wrong
    items, not one per item."""
    add = _add
    score = _score
    reply.id = request.id
    # items.add() then a field set is ~5x faster than building Reply(...)
    # objects and passing the list (protobuf's C++ backend, 10,000 items).
    # Setting a field of `add` marks it present even when the result is 0
    # (the item is `0a 00`), as the C++ peer's mutable_add() does.
    new = reply.items.add
    wrong, first = 0, None
    for i, item in enumerate(request.items):
        op = item.WhichOneof("op")
        if op == "add":
            r = item.add
            new().add.result = add(r.x, r.y)
            continue
        if op == "score":
            r = item.score
            problem = check_score(r)
            if problem is None:
                s, label = score(r.features, r.model)
                result = new().score
                result.score = s
                result.label = label
                continue
        elif op == "batch":
            problem = "a batch item may not be a batch"
        else:
            problem = "batch item has neither add nor score"
        new().error = problem
        if not wrong:
            first = f"item {i}: {problem}"
        wrong += 1
    if wrong:
        raw_frame.log(f"bad batch items (id {request.id}): {wrong} of {len(request.items)}; the first, {first}")


def answer_request(request, fallback_id: "int | None" = 0):
    """(Reply, None) for a parsed Request, or (error Reply, why) when it is
    refused: out of bounds, a batch of the wrong shape, or no op at all,
    whose Reply's id is then `fallback_id` (None: (None, why), there is no
    id to reply to)."""
    pb = _pb2 or load()
    op = request.WhichOneof("op")
    if op == "add":
        r = request.add
        return pb.Reply(id=r.id, add=pb.AddReply(id=r.id, result=_add(r.x, r.y))), None
    if op == "score":
        r = request.score
        problem = check_score(r)
        if problem is None:
            s, label = _score(r.features, r.model)
            return pb.Reply(id=r.id, score=pb.ScoreReply(id=r.id, score=s, label=label)), None
        return pb.Reply(id=r.id, error=problem), problem
    if op == "batch":
        r = request.batch
        problem = check_batch(r)
        if problem is None:
            reply = pb.Reply(id=r.id)
            answer_batch(r, reply.batch)
            return reply, None
        return pb.Reply(id=r.id, error=problem), problem
    problem = "request has neither add nor score nor batch"
    if fallback_id is None:
        return None, problem
    return pb.Reply(id=fallback_id, error=problem), problem


def answer_message(data, fallback_id: "int | None" = None) -> "tuple[bytes | None, str | None]":
    """(serialized Reply, None) for a serialized Request (bytes or a buffer),
    or (serialized error Reply, why) for one that does not parse, is longer
    than MAX_MESSAGE_BYTES, or is refused by answer_request; an error whose
    message carries no id of its own gets `fallback_id` (a frame header's, a
    file name's), or with None there is nowhere to reply: (None, why)."""
    pb = _pb2 or load()
    if len(data) > MAX_MESSAGE_BYTES:
        problem = f"a protobuf message is at most {MAX_MESSAGE_BYTES} bytes, not {len(data)}"
        return _refused(pb, fallback_id, problem)
    try:
        request = pb.Request.FromString(data)
    except Exception:  # DecodeError; anything else the parser may raise on hostile bytes
        return _refused(pb, fallback_id, "not a protobuf interop.v1.Request")
    reply, problem = answer_request(request, fallback_id)
    if reply is None:
        return None, problem
    return reply.SerializeToString(), problem


def refusal(id, message: str) -> "tuple[bytes, str]":
    """(serialized Reply{error, id}, message)."""
    pb = _pb2 or load()
    return pb.Reply(id=id or 0, error=_error_text(message)).SerializeToString(), message


def _refused(pb, id, problem: str) -> "tuple[bytes | None, str]":
    if id is None:
        return None, problem
    return pb.Reply(id=id, error=_error_text(problem)).SerializeToString(), problem
