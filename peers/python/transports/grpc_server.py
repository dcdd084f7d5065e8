"""gRPC: service interop.v1.Interop (schemas/interop.proto) on 127.0.0.1.

One server serves both `grpc` (unary Add, Score and Batch) and `grpc-stream`
(the bidi Stream RPC, whose Requests may be batches too). Invalid arguments end
a unary call with INVALID_ARGUMENT; on the stream they get Reply{error, id} and
the stream goes on. A batch is answered item by item, each item as its single
call would be; a wrong item gets an error item in its place, and only a wrong
shape (no items, more than MAX_BATCH_ITEMS) refuses the batch. With --echo the
same methods are served with identity (de)serialisation: each request message's
bytes go back unchanged, no protobuf is decoded.

The messages are answered by protobuf_message, as every tier that carries
protobuf bytes answers them. The generated code (interop_pb2.py,
interop_pb2_grpc.py) is made by the build in $INTEROP_GENERATED_DIR/python,
by default <repo>/build/generated/python.
"""

from concurrent import futures

import protobuf_message
from protobuf_message import answer_batch, answer_request, check_batch, check_score
from raw_frame import log
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

generated_dir = protobuf_message.generated_dir


def import_generated():
    """(interop_pb2, interop_pb2_grpc), from the build's generated code."""
    where = generated_dir()
    if not (where / "interop_pb2_grpc.py").is_file():
        raise PeerError(f"no generated gRPC code in {where} (build the project first, "
                        "or set INTEROP_GENERATED_DIR)")
    interop_pb2 = protobuf_message.load()  # puts `where` on sys.path
    import interop_pb2_grpc
    return interop_pb2, interop_pb2_grpc


def make_servicer(pb2, pb2_grpc):
    import grpc

    AddReply = pb2.AddReply
    ScoreReply = pb2.ScoreReply
    Reply = pb2.Reply
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    add = _add
    score = _score
    BatchReply = pb2.BatchReply
    answer = answer_request

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
            # The answers of the byte tiers' protobuf codec (protobuf_message):
            # a bad request gets Reply{error, id} and the stream goes on.
            for request in request_iterator:
                op = request.WhichOneof("op")
                if op == "add":  # inline: the stream's hot path
                    r = request.add
                    yield Reply(id=r.id, add=AddReply(id=r.id, result=add(r.x, r.y)))
                    continue
                reply, problem = answer(request, 0)
                if problem is not None:
                    log(f"bad stream request (id {reply.id}): {problem}")
                yield reply

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
