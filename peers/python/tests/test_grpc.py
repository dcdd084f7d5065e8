"""The real peer over `grpc` and `grpc-stream`, driven with the generated stubs
($INTEROP_GENERATED_DIR/python, by default <repo>/build/generated/python)."""

import os
import signal
import struct
import sys
import unittest
from pathlib import Path

PEER_DIR = Path(__file__).resolve().parent.parent
for _dir in (PEER_DIR, PEER_DIR / "tests"):
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))

import workload  # noqa: E402
from test_peer import RAMP_256_HEX, TIMEOUT, PeerTestCase  # noqa: E402

MAX_GRPC_MESSAGE = 17825792  # interop.proto: each way, every server and the harness's channel
MAX_BATCH_ITEMS = 100000

GENERATED = Path(os.environ.get("INTEROP_GENERATED_DIR")
                 or PEER_DIR.parent.parent / "build" / "generated") / "python"

try:
    import grpc
    sys.path.insert(0, str(GENERATED))
    import interop_pb2 as pb
    import interop_pb2_grpc as pb_grpc
    MISSING = None
except ImportError as e:  # not built yet
    MISSING = f"gRPC or the generated code in {GENERATED} is missing: {e}"


class GrpcCase(PeerTestCase):
    """Starts the peer with `transport` (and `options`) and opens a channel to it."""
    transport = None
    options = ()

    def setUp(self):
        super().setUp()
        self.proc = self.start(self.transport, "127.0.0.1:0", *self.options)
        host, _, port = self.proc.ready_address.rpartition(":")
        self.assertEqual(host, "127.0.0.1")
        self.assertGreater(int(port), 0)
        # As the harness's channel: replies (and echoes) of up to MAX_GRPC_MESSAGE.
        self.channel = grpc.insecure_channel(self.proc.ready_address, options=[
            ("grpc.max_receive_message_length", MAX_GRPC_MESSAGE),
            ("grpc.max_send_message_length", -1)])
        self.addCleanup(self.channel.close)
        self.stub = pb_grpc.InteropStub(self.channel)

    def check_score_ramp_256(self, reply, id):
        self.assertEqual(reply.id, id)
        self.assertEqual(struct.pack(">d", reply.score).hex(), RAMP_256_HEX)
        self.assertEqual(reply.label, "fraud")


@unittest.skipIf(MISSING, MISSING)
class GrpcPeerTest(GrpcCase):
    transport = "grpc"

    def test_unary_add_and_score(self):
        reply = self.stub.Add(pb.AddRequest(id=1, x=2**63 - 1, y=1), timeout=TIMEOUT)
        self.assertEqual((reply.id, reply.result), (1, -2**63))
        reply = self.stub.Score(pb.ScoreRequest(id=2, features=workload.ramp_features(256),
                                                model="modèle-ü"), timeout=TIMEOUT)
        self.check_score_ramp_256(reply, 2)

    def test_invalid_arguments_then_still_serving(self):
        bad = [pb.ScoreRequest(id=3, features=[], model="😀" * 257),  # 1028 bytes
               pb.ScoreRequest(id=4, features=[0.5] * 131073, model="m")]
        for request in bad:
            with self.assertRaises(grpc.RpcError) as caught:
                self.stub.Score(request, timeout=TIMEOUT)
            self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
            reply = self.stub.Add(pb.AddRequest(id=5, x=-7, y=3), timeout=TIMEOUT)
            self.assertEqual((reply.id, reply.result), (5, -4))
        ok = pb.ScoreRequest(id=6, features=[0.5] * 131072, model="é" * 512)  # at the bounds
        self.assertEqual(self.stub.Score(ok, timeout=TIMEOUT).id, 6)

    def test_sigterm_exits_zero(self):
        self.stub.Add(pb.AddRequest(id=1, x=1, y=1), timeout=TIMEOUT)
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(self.proc), 0)
        self.assertEqual(self.remaining_stdout(self.proc), b"")
        self.assertNotIn("Traceback", self.stderr_of(self.proc))


def mixed_batch_items():
    """Items a batch answers, and items that are each wrong in themselves."""
    return [pb.Request(add=pb.AddRequest(x=2**63 - 1, y=1)),
            pb.Request(score=pb.ScoreRequest(features=workload.ramp_features(256), model="modèle-ü")),
            pb.Request(),  # neither add nor score
            pb.Request(batch=pb.BatchRequest(id=1, items=[pb.Request(add=pb.AddRequest(x=1, y=1))])),
            pb.Request(score=pb.ScoreRequest(features=[], model="😀" * 257)),  # 1028 bytes
            pb.Request(score=pb.ScoreRequest(features=[0.5] * 131073, model="m")),
            pb.Request(score=pb.ScoreRequest(features=[1e6], model="")),  # exp overflows: 0.0
            pb.Request(add=pb.AddRequest(id=99, x=-7, y=3))]  # an inner id is ignored


MIXED_KINDS = ["add", "score", "error", "error", "error", "error", "score", "add"]


class BatchChecks:
    def check_mixed_reply(self, reply, id):
        """The reply to mixed_batch_items(): item by item, as single calls answer."""
        self.assertEqual(reply.id, id)
        self.assertEqual([r.WhichOneof("result") for r in reply.items], MIXED_KINDS)
        self.assertEqual([r.id for r in reply.items], [0] * len(MIXED_KINDS))
        self.assertEqual(reply.items[0].add.result, -2**63)
        self.check_score_ramp_256(reply.items[1].score, 0)
        self.assertEqual((reply.items[6].score.score, reply.items[6].score.label), (0.0, "legit"))
        self.assertEqual(reply.items[7].add.result, -4)
        self.assertEqual(reply.items[7].add.id, 0)
        self.assertIn("1024", reply.items[4].error)
        self.assertIn("131072", reply.items[5].error)


@unittest.skipIf(MISSING, MISSING)
class GrpcBatchPeerTest(GrpcCase, BatchChecks):
    transport = "grpc"

    def batch(self, id, items, **kwargs):
        return self.stub.Batch(pb.BatchRequest(id=id, items=items), timeout=TIMEOUT, **kwargs)

    def test_items_answered_as_single_calls(self):
        self.check_mixed_reply(self.batch(2**64 - 1, mixed_batch_items()), 2**64 - 1)
        # Bit for bit as the unary calls, item by item.
        items = [pb.Request(score=pb.ScoreRequest(features=workload.ramp_features(n), model="m"))
                 for n in (0, 1, 7, 1000, 65536)]
        items += [pb.Request(add=pb.AddRequest(x=x, y=y)) for x, y in ((-2**63, -1), (5, -5), (1, 2))]
        reply = self.batch(3, items)
        for item, got in zip(items, reply.items):
            if item.HasField("add"):
                self.assertEqual(got.add.result, self.stub.Add(item.add, timeout=TIMEOUT).result)
            else:
                single = self.stub.Score(item.score, timeout=TIMEOUT)
                self.assertEqual((struct.pack("<d", got.score.score), got.score.label),
                                 (struct.pack("<d", single.score), single.label))

    def test_wrong_shapes_are_invalid_argument_then_still_serving(self):
        add = pb.Request(add=pb.AddRequest(x=1, y=2))
        for items in ([], [add] * (MAX_BATCH_ITEMS + 1)):
            with self.subTest(items=len(items)):
                with self.assertRaises(grpc.RpcError) as caught:
                    self.batch(4, items)
                self.assertEqual(caught.exception.code(), grpc.StatusCode.INVALID_ARGUMENT)
                self.assertEqual(self.stub.Add(pb.AddRequest(id=5, x=-7, y=3), timeout=TIMEOUT).result, -4)
        reply = self.batch(6, [add] * MAX_BATCH_ITEMS)  # the most items there may be
        self.assertEqual(len(reply.items), MAX_BATCH_ITEMS)
        self.assertEqual({r.add.result for r in reply.items}, {3})

    def test_messages_past_4_mib_up_to_max_grpc_message(self):
        """Five scores of 131072 features: 5.2 MB, past gRPC's default 4 MiB."""
        items = [pb.Request(score=pb.ScoreRequest(features=workload.ramp_features(131072), model=f"m{i}"))
                 for i in range(5)]
        request = pb.BatchRequest(id=7, items=items)
        self.assertGreater(request.ByteSize(), 4 * 1024 * 1024)
        reply = self.stub.Batch(request, timeout=TIMEOUT)
        self.assertEqual([r.WhichOneof("result") for r in reply.items], ["score"] * 5)
        self.assertEqual(len({r.score.score for r in reply.items}), 1)
        raw = self.channel.unary_unary("/interop.v1.Interop/Batch", request_serializer=None,
                                       response_deserializer=None)
        with self.assertRaises(grpc.RpcError) as caught:
            raw(b"\0" * (MAX_GRPC_MESSAGE + 1), timeout=TIMEOUT)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        self.assertEqual(self.stub.Add(pb.AddRequest(id=8, x=1, y=1), timeout=TIMEOUT).result, 2)


@unittest.skipIf(MISSING, MISSING)
class GrpcStreamPeerTest(GrpcCase, BatchChecks):
    """`grpc-stream` is the same server; the harness uses the Stream RPC."""
    transport = "grpc-stream"

    def test_stream_in_order_errors_inline(self):
        requests = [pb.Request(add=pb.AddRequest(id=10, x=2**63 - 1, y=1)),
                    pb.Request(score=pb.ScoreRequest(id=11, features=workload.ramp_features(256),
                                                     model="modèle-ü")),
                    pb.Request(score=pb.ScoreRequest(id=12, model="x" * 1025)),
                    pb.Request(),  # neither add nor score
                    pb.Request(add=pb.AddRequest(id=14, x=2, y=3))]
        replies = list(self.stub.Stream(iter(requests), timeout=TIMEOUT))
        self.assertEqual([r.WhichOneof("result") for r in replies],
                         ["add", "score", "error", "error", "add"])
        self.assertEqual([r.id for r in replies], [10, 11, 12, 0, 14])
        self.assertEqual(replies[0].add.result, -2**63)
        self.check_score_ramp_256(replies[1].score, 11)
        self.assertIn("1024", replies[2].error)
        self.assertEqual(replies[4].add.result, 5)

    def test_stream_batches_in_order_with_singles(self):
        """A Request with batch gets a Reply with batch and the batch's id; a
        wrong shape gets Reply.error with that id; the stream goes on."""
        add = pb.Request(add=pb.AddRequest(x=1, y=2))
        requests = [pb.Request(add=pb.AddRequest(id=20, x=1, y=1)),
                    pb.Request(batch=pb.BatchRequest(id=21, items=mixed_batch_items())),
                    pb.Request(batch=pb.BatchRequest(id=22)),  # no items
                    pb.Request(batch=pb.BatchRequest(id=23, items=[add] * (MAX_BATCH_ITEMS + 1))),
                    pb.Request(batch=pb.BatchRequest(id=24, items=[add] * 1000)),
                    pb.Request(add=pb.AddRequest(id=25, x=2, y=3))]
        replies = list(self.stub.Stream(iter(requests), timeout=TIMEOUT))
        self.assertEqual([r.WhichOneof("result") for r in replies], ["add", "batch", "error", "error", "batch", "add"])
        self.assertEqual([r.id for r in replies], [20, 21, 22, 23, 24, 25])
        self.check_mixed_reply(replies[1].batch, 21)
        self.assertEqual([r.add.result for r in replies[4].batch.items], [3] * 1000)
        self.assertEqual(replies[5].add.result, 5)

    def test_stream_many(self):
        requests = (pb.Request(add=pb.AddRequest(id=i, x=i, y=i)) for i in range(200))
        replies = list(self.stub.Stream(requests, timeout=TIMEOUT))
        self.assertEqual([(r.id, r.add.result) for r in replies], [(i, 2 * i) for i in range(200)])


class GrpcEchoCase(GrpcCase):
    """--echo: the methods called with no (de)serialiser, as the harness's
    floor does: the bytes sent must come back unchanged."""
    options = ("--echo",)

    def raw(self, kind, method):
        return getattr(self.channel, kind)(f"/interop.v1.Interop/{method}",
                                           request_serializer=None, response_deserializer=None)

    @staticmethod
    def score_request(id):
        return pb.ScoreRequest(id=id, features=workload.ramp_features(256), model="modèle-ü")


@unittest.skipIf(MISSING, MISSING)
class GrpcEchoPeerTest(GrpcEchoCase):
    transport = "grpc"

    def test_unary_requests_come_back_unchanged(self):
        add = pb.AddRequest(id=1, x=2**63 - 1, y=1).SerializeToString()
        score = self.score_request(2).SerializeToString()
        self.assertEqual(self.raw("unary_unary", "Add")(add, timeout=TIMEOUT), add)
        self.assertEqual(self.raw("unary_unary", "Score")(score, timeout=TIMEOUT), score)
        garbage = b"\xff\x00 not protobuf"  # nothing is decoded
        self.assertEqual(self.raw("unary_unary", "Score")(garbage, timeout=TIMEOUT), garbage)

    def test_batches_come_back_unchanged(self):
        batch = pb.BatchRequest(id=4, items=[pb.Request(add=pb.AddRequest(x=i, y=i)) for i in range(1000)])
        sent = batch.SerializeToString()
        self.assertEqual(self.raw("unary_unary", "Batch")(sent, timeout=TIMEOUT), sent)
        garbage = b"\xff\x00 not protobuf"  # nothing is decoded
        self.assertEqual(self.raw("unary_unary", "Batch")(garbage, timeout=TIMEOUT), garbage)

    def test_message_size_bound_as_usual(self):
        """Up to MAX_GRPC_MESSAGE each way (a 16 MiB batch and its framing), no more."""
        largest = b"x" * MAX_GRPC_MESSAGE
        self.assertEqual(self.raw("unary_unary", "Batch")(largest, timeout=TIMEOUT), largest)
        with self.assertRaises(grpc.RpcError) as caught:
            self.raw("unary_unary", "Batch")(largest + b"x", timeout=TIMEOUT)
        self.assertEqual(caught.exception.code(), grpc.StatusCode.RESOURCE_EXHAUSTED)
        add = pb.AddRequest(id=3, x=1, y=2).SerializeToString()
        self.assertEqual(self.raw("unary_unary", "Add")(add, timeout=TIMEOUT), add)


@unittest.skipIf(MISSING, MISSING)
class GrpcStreamEchoPeerTest(GrpcEchoCase):
    transport = "grpc-stream"

    def test_stream_messages_come_back_unchanged_in_order(self):
        requests = [pb.Request(add=pb.AddRequest(id=10, x=2**63 - 1, y=1)),
                    pb.Request(score=self.score_request(11)),
                    pb.Request(batch=pb.BatchRequest(id=12, items=mixed_batch_items())),
                    pb.Request()]
        requests += [pb.Request(add=pb.AddRequest(id=i, x=i, y=i)) for i in range(200)]
        sent = [r.SerializeToString() for r in requests]
        replies = list(self.raw("stream_stream", "Stream")(iter(sent), timeout=TIMEOUT))
        self.assertEqual(replies, sent)


class GrpcCommandLineTest(PeerTestCase):
    def test_refused_options(self):
        for extra, address in (((), "10.0.0.1:0"), (("--codec=json",), "127.0.0.1:0")):
            with self.subTest(extra=extra, address=address):
                proc = self.start("grpc", address, *extra, wait_ready=False)
                self.assertEqual(self.wait_exit(proc), 2)

    def test_missing_generated_code_exits_1(self):
        env = dict(os.environ, INTEROP_GENERATED_DIR=os.path.join(self.tmp, "nothing"))
        proc = self.start("grpc", "127.0.0.1:0", wait_ready=False, env=env)
        self.assertEqual(self.wait_exit(proc), 1)
        self.assertIn("generated", self.stderr_of(proc))

    def test_port_in_use_exits_1(self):
        import socket
        holder = socket.socket()
        self.addCleanup(holder.close)
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        proc = self.start("grpc", f"127.0.0.1:{holder.getsockname()[1]}", wait_ready=False)
        self.assertEqual(self.wait_exit(proc), 1)


if __name__ == "__main__":
    unittest.main()
