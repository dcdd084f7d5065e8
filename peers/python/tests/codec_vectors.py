"""schemas/test_vectors.json's `codecs`: one message in raw, JSON and protobuf,
alone and in the frame header, with the C++ peer's answer to each. Helpers
shared by test_codecs.py and test_codec_queues.py: every request form as
bytes, and any reply (raw frame, JSON, protobuf, alone or framed) decoded to
the vectors' common form, {"add": n} / {"score_hex", "label"} / {"error"} /
{"items": [...]}, with its id."""

import json
import os
import struct
import sys
from pathlib import Path

PEER_DIR = Path(__file__).resolve().parent.parent
for _dir in (PEER_DIR, PEER_DIR / "tests"):
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))

import raw_frame as rf  # noqa: E402
import workload  # noqa: E402

VECTORS = PEER_DIR.parent.parent / "schemas" / "test_vectors.json"
GENERATED = Path(os.environ.get("INTEROP_GENERATED_DIR")
                 or PEER_DIR.parent.parent / "build" / "generated") / "python"

try:
    sys.path.insert(0, str(GENERATED))
    import interop_pb2 as pb
    PB_MISSING = None
except ImportError as e:  # not built yet
    pb = None
    PB_MISSING = f"the generated protobuf code in {GENERATED} is missing: {e}"

FORMS = ("raw", "json", "protobuf", "json_framed", "protobuf_framed")
REPLY_FORMS = tuple("reply_" + f for f in FORMS)


def load():
    with open(VECTORS, encoding="utf-8") as f:
        return json.load(f)["codecs"]


def fnv1a64(data: bytes) -> str:
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def given(v, form) -> "bytes | None":
    """The vector's bytes of `form` when it spells them out (short vectors)."""
    if form == "json" or form == "reply_json":
        return v[form].encode() if form in v else None
    return bytes.fromhex(v[form + "_hex"]) if form + "_hex" in v else None


def matches(v, form, data: bytes) -> bool:
    """Are `data` the vector's bytes of `form`, spelled out or by length and FNV-1a?"""
    spelled = given(v, form)
    if spelled is not None:
        return data == spelled
    return (len(data), fnv1a64(data)) == (v[form + "_bytes"], v[form + "_fnv1a64"])


def features_of(score) -> list:
    f = score["features"]
    return workload.ramp_features(f["ramp"]) if isinstance(f, dict) else f


def calls_of(request) -> "list[dict]":
    """A request's calls: itself, or its batch's items."""
    return request["batch"] if "batch" in request else [request]


# ---------------------------------------------------------------- requests

def raw_item(call) -> "tuple[int, bytes]":
    if "add" in call:
        return rf.KIND_ADD_REQUEST, rf.payload_of(rf.encode_add_request(0, *call["add"]))
    return rf.KIND_SCORE_REQUEST, rf.payload_of(
        rf.encode_score_request(0, features_of(call["score"]), call["score"]["model"]))


def raw_request(request) -> bytes:
    id = request["id"]
    if "batch" in request:
        return rf.encode_batch(rf.KIND_BATCH_REQUEST, id, [raw_item(c) for c in request["batch"]])
    if "add" in request:
        return rf.encode_add_request(id, *request["add"])
    return rf.encode_score_request(id, features_of(request["score"]), request["score"]["model"])


def json_call(call) -> dict:
    if "add" in call:
        return {"op": "add", "x": call["add"][0], "y": call["add"][1]}
    return {"op": "score", "features": features_of(call["score"]), "model": call["score"]["model"]}


def json_object(request, **extra) -> dict:
    """The JSON request as the harness writes it: id and op first; `extra`
    (reply_to) last."""
    if "batch" in request:
        body = {"id": request["id"], "op": "batch", "items": [json_call(c) for c in request["batch"]]}
    else:
        body = {"id": request["id"], **json_call(request)}
    return {**body, **extra}


def json_request(request, **extra) -> bytes:
    return json.dumps(json_object(request, **extra), separators=(",", ":"), ensure_ascii=False).encode()


def pb_call(call, id=0):
    if "add" in call:
        return pb.Request(add=pb.AddRequest(id=id, x=call["add"][0], y=call["add"][1]))
    s = call["score"]
    return pb.Request(score=pb.ScoreRequest(id=id, features=features_of(s), model=s["model"]))


def pb_request(request) -> bytes:
    if "batch" in request:
        msg = pb.Request(batch=pb.BatchRequest(id=request["id"], items=[pb_call(c) for c in request["batch"]]))
    else:
        msg = pb_call(request, request["id"])
    return msg.SerializeToString()


def framed(kind: int, id: int, message: bytes) -> bytes:
    return rf.encode_header(kind, id, len(message)) + message


def request_forms(v) -> "dict[str, bytes]":
    """Every request form of a vector: its spelled-out bytes, or, for the long
    ones, built here (and checked against their length and FNV-1a)."""
    r = v["request"]
    built = {"raw": raw_request(r), "json": json_request(r)}
    if pb is not None:
        built["protobuf"] = pb_request(r)
        built["protobuf_framed"] = framed(rf.KIND_PROTOBUF_REQUEST, r["id"], built["protobuf"])
    built["json_framed"] = framed(rf.KIND_JSON_REQUEST, r["id"], built["json"])
    return {form: given(v, form) if given(v, form) is not None else data for form, data in built.items()}


def want(v) -> dict:
    """The vector's reply in the common form."""
    if "reply_items" in v:
        return {"items": [normal_want(i) for i in v["reply_items"]]}
    return normal_want(v["reply"])


def normal_want(item) -> dict:
    return {"error": True} if "error" in item else item


# ---------------------------------------------------------------- replies

def _score_form(score: float, label: str) -> dict:
    return {"score_hex": struct.pack(">d", score).hex(), "label": label}


def from_raw(frame: bytes) -> "tuple[int, dict]":
    """(id, common form) of a whole raw reply frame, any kind (0xA0 and 0xB0 too)."""
    kind, id, plen = rf.decode_header(frame)
    assert len(frame) == rf.HEADER_SIZE + plen, "a reply frame with bytes missing or left over"
    payload = frame[rf.HEADER_SIZE:]
    if kind == rf.KIND_JSON_REPLY:
        return id, from_json(payload)[1]
    if kind == rf.KIND_PROTOBUF_REPLY:
        return id, from_protobuf(payload)[1]
    if kind == rf.KIND_BATCH_REPLY:
        return id, {"items": [_raw_item(k, p) for k, p in rf.parse_batch(payload)]}
    return id, _raw_item(kind, payload)


def _raw_item(kind, payload) -> dict:
    if kind == rf.KIND_ADD_REPLY:
        return {"add": rf.parse_add_reply(payload)}
    if kind == rf.KIND_SCORE_REPLY:
        return _score_form(*rf.parse_score_reply(payload))
    assert kind == rf.KIND_ERROR, f"reply kind 0x{kind:02x}"
    return {"error": True}


def from_json(body) -> "tuple[object, dict]":
    msg = json.loads(bytes(body))
    if "items" in msg:
        return msg["id"], {"items": [_json_item(i) for i in msg["items"]]}
    return msg["id"], _json_item(msg)


def _json_item(msg) -> dict:
    if "error" in msg:
        return {"error": True}
    if "result" in msg:
        return {"add": msg["result"]}
    return _score_form(msg["score"], msg["label"])


def from_protobuf(data) -> "tuple[int, dict]":
    reply = pb.Reply.FromString(bytes(data))
    which = reply.WhichOneof("result")
    if which == "batch":
        assert reply.batch.id == reply.id
        return reply.id, {"items": [_pb_item(i) for i in reply.batch.items]}
    return reply.id, _pb_item(reply)


def _pb_item(reply) -> dict:
    which = reply.WhichOneof("result")
    if which == "add":
        return {"add": reply.add.result}
    if which == "score":
        return _score_form(reply.score.score, reply.score.label)
    assert which == "error", which
    return {"error": True}


def pb_error(data) -> "tuple[int, str]":
    """(id, message) of a serialized error Reply."""
    reply = pb.Reply.FromString(bytes(data))
    assert reply.WhichOneof("result") == "error", reply
    return reply.id, reply.error
