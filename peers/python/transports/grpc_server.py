"""gRPC: service interop.v1.Interop (schemas/interop.proto) on 127.0.0.1.

One server serves both `grpc` (unary Add, Score and Batch) and `grpc-stream`
(the bidi Stream RPC, whose Requests may be batches too). Invalid arguments end
a unary call with INVALID_ARGUMENT; on the stream they get Reply{error, id} and
the stream goes on. A batch is answered item by item, each item as its single
call would be; a wrong item gets an error item in its place, and only a wrong
shape (no items, more than MAX_BATCH_ITEMS) refuses the batch. With --echo the
same methods are served with identity (de)serialisation: each request message's
bytes go back unchanged, no protobuf is decoded.

The generated code (interop_pb2.py, interop_pb2_grpc.py) is made by the build
in $INTEROP_GENERATED_DIR/python, by default <repo>/build/generated/python.
"""

import os
import sys
from concurrent import futures
from pathlib import Path

from raw_frame import MAX_BATCH_ITEMS, MAX_FEATURES, MAX_MODEL_BYTES, log
from transports import PeerError, announce
from transports.tcp import parse_address
from workload import add as _add, score as _score

CODECS = ("protobuf",)
DEFAULT_ADDRESS = None

SERVICE = "interop.v1.Interop"
MAX_WORKERS = 4
# MAX_GRPC_MESSAGE (interop.proto): a batch of up to 16 MiB and its framing,
# each way, as every server and the harness's channel accept.
MAX_MESSAGE_BYTES = 17_825_792

_REPO = Path(__file__).resolve().parents[3]


def generated_dir() -> Path:
    base = os.environ.get("INTEROP_GENERATED_DIR") or str(_REPO / "build" / "generated")
    return Path(base) / "python"


def import_generated():
    """(interop_pb2, interop_pb2_grpc), from the build's generated code."""
    where = generated_dir()
    if not (where / "interop_pb2_grpc.py").is_file():
        raise PeerError(f"no generated gRPC code in {where} (build the project first, "
                        "or set INTEROP_GENERATED_DIR)")
    if str(where) not in sys.path:
        sys.path.insert(0, str(where))
    import interop_pb2
    import interop_pb2_grpc
    return interop_pb2, interop_pb2_grpc


def check_score(request) -> "str | None":
    """Why a ScoreRequest is refused, or None if it is within bounds."""
    if len(request.features) > MAX_FEATURES:
        return f"more than {MAX_FEATURES} features"
    model = request.model
    if len(model) > MAX_MODEL_BYTES // 4 and len(model.encode("utf-8")) > MAX_MODEL_BYTES:
        return f"model is longer than {MAX_MODEL_BYTES} UTF-8 bytes"
    return None


def check_batch(request) -> "str | None":
    """Why a BatchRequest is refused as a whole (its shape), or None."""
    if not 1 <= len(request.items) <= MAX_BATCH_ITEMS:
        return f"a batch has 1 to {MAX_BATCH_ITEMS} items, not {len(request.items)}"
    return None


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
        log(f"bad batch items (id {request.id}): {wrong} of {len(request.items)}; the first, {first}")


def make_servicer(pb2, pb2_grpc):
    import grpc

    AddReply = pb2.AddReply
    ScoreReply = pb2.ScoreReply
    Reply = pb2.Reply
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    add = _add
    score = _score
    BatchReply = pb2.BatchReply

    class Interop(pb2_grpc.InteropServicer):
        def Add(self, request, context):
            return AddReply(id=request.id, result=add(request.x, request.y))

        def Score(self, request, context):
            problem = check_score(request)
            if problem is not None:
                log(f"bad Score request (id {request.id}): {problem}")
                context.abort(invalid, problem)
            s, label = score(request.features, request.model)
            return ScoreReply(id=request.id, score=s, label=label)

        def Batch(self, request, context):
            problem = check_batch(request)
            if problem is not None:
                log(f"bad Batch request (id {request.id}): {problem}")
                context.abort(invalid, problem)
            reply = BatchReply()
            answer_batch(request, reply)
            return reply

        def Stream(self, request_iterator, context):
            for request in request_iterator:
                op = request.WhichOneof("op")
                if op == "add":
                    r = request.add
                    yield Reply(id=r.id, add=AddReply(id=r.id, result=add(r.x, r.y)))
                elif op == "score":
                    r = request.score
                    problem = check_score(r)
                    if problem is None:
                        s, label = score(r.features, r.model)
                        yield Reply(id=r.id, score=ScoreReply(id=r.id, score=s, label=label))
                    else:
                        log(f"bad stream request (id {r.id}): {problem}")
                        yield Reply(id=r.id, error=problem)
                elif op == "batch":
                    r = request.batch
                    problem = check_batch(r)
                    if problem is None:
                        reply = Reply(id=r.id)
                        answer_batch(r, reply.batch)
                        yield reply
                    else:
                        log(f"bad stream request (id {r.id}): {problem}")
                        yield Reply(id=r.id, error=problem)
                else:
                    log("bad stream request: neither add nor score nor batch")
                    yield Reply(id=0, error="request has neither add nor score nor batch")

    return Interop()


def echo_handler():
    """The floor: SERVICE's methods with no (de)serialiser, so each handler
    gets the request's bytes and its return value is sent as they are."""
    import grpc

    def unary(request, context):
        return request

    def stream(request_iterator, context):
        # The requests are the replies: grpc pulls each from the iterator
        # and sends it, in order, with no generator in between.
        return request_iterator

    return grpc.method_handlers_generic_handler(SERVICE, {
        "Add": grpc.unary_unary_rpc_method_handler(unary),
        "Score": grpc.unary_unary_rpc_method_handler(unary),
        "Batch": grpc.unary_unary_rpc_method_handler(unary),
        "Stream": grpc.stream_stream_rpc_method_handler(stream),
    })


def add_service(server, echo: bool) -> None:
    """SERVICE on `server`: the servicer, or with `echo` the floor, which
    decodes nothing and so needs no generated code."""
    if echo:
        server.add_generic_rpc_handlers((echo_handler(),))
        return
    pb2, pb2_grpc = import_generated()
    pb2_grpc.add_InteropServicer_to_server(make_servicer(pb2, pb2_grpc), server)


def run(address: str, codec: str, echo: bool, inflight: int = 1) -> int:
    host, port = parse_address(address)
    import grpc

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="grpc"),
        options=[("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                 ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
                 ("grpc.so_reuseport", 0)])
    try:
        add_service(server, echo)
        try:
            bound = server.add_insecure_port(f"{host}:{port}")
        except RuntimeError as e:  # newer grpcio raises instead of returning 0
            raise PeerError(f"cannot bind {host}:{port}: {e}") from None
        if not bound:
            raise PeerError(f"cannot bind {host}:{port}")
        server.start()
        announce(f"{host}:{bound}")
        # Waits in short slices, so SIGTERM/SIGINT (SystemExit) gets through.
        server.wait_for_termination()
    finally:
        server.stop(None).wait(5)
    return 0
