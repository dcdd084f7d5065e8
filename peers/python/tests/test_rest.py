"""The real peer over `rest` (FastAPI on uvicorn), driven with http.client."""

import http.client
import json
import signal
import socket
import struct
import sys
import time
import unittest
from pathlib import Path

PEER_DIR = Path(__file__).resolve().parent.parent
for _dir in (PEER_DIR, PEER_DIR / "tests"):
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))

import workload  # noqa: E402
from test_peer import RAMP_256_HEX, TIMEOUT, PeerTestCase, echo_requests  # noqa: E402
from test_workload import bits, load_vectors  # noqa: E402

MAX_JSON_BYTES = 4194304
JSON = {"Content-Type": "application/json"}


class RestCase(PeerTestCase):
    """Starts the peer (with `options`) and opens a keep-alive connection."""
    options = ()

    def setUp(self):
        super().setUp()
        self.proc = self.start("rest", "127.0.0.1:0", *self.options)
        host, _, port = self.proc.ready_address.rpartition(":")
        self.assertEqual(host, "127.0.0.1")
        self.port = int(port)
        self.conn = self.connect()

    def connect(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=TIMEOUT)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.addCleanup(conn.close)
        return conn

    def exchange(self, method, path, body=None, conn=None):
        """(status, body bytes); the body must be JSON whatever the status."""
        conn = conn or self.conn
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        conn.request(method, path, body, JSON if body is not None else {})
        response = conn.getresponse()
        data = response.read()
        self.assertEqual(response.getheader("Content-Type"), "application/json", data)
        return response.status, data

    def call(self, method, path, body=None, conn=None):
        """(status, decoded JSON body)."""
        status, data = self.exchange(method, path, body, conn)
        return status, json.loads(data)

    def expect_error(self, status, reply, low=400, high=499):
        self.assertTrue(low <= status <= high, (status, reply))
        self.assertTrue("error" in reply or "detail" in reply, reply)

    def check_unknown_path_and_wrong_method(self):
        status, reply = self.call("GET", "/nope")
        self.assertEqual(status, 404)
        self.expect_error(status, reply)
        status, reply = self.call("GET", "/add")
        self.assertEqual(status, 405)
        self.expect_error(status, reply)

    def check_body_over_the_bound_gets_413(self, path="/add"):
        """One byte more than MAX_JSON_BYTES, said by the Content-Length or
        counted in a chunked body, gets 413 (each on a connection of its own)."""
        conn = self.connect()
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(MAX_JSON_BYTES + 1))
        conn.endheaders()
        response = conn.getresponse()
        self.assertEqual(response.status, 413)
        self.assertIn("error", json.loads(response.read()))
        conn = self.connect()
        conn.putrequest("POST", path)
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        chunk = b" " * (MAX_JSON_BYTES + 1)
        conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(chunk), chunk))
        response = conn.getresponse()
        self.assertEqual(response.status, 413)
        response.read()


class RestPeerTest(RestCase):
    def check_valid(self, id=9):
        self.assertEqual(self.call("POST", "/add", {"id": id, "x": -7, "y": 3}),
                         (200, {"id": id, "result": -4}))

    def test_add_score_health(self):
        self.assertEqual(self.call("GET", "/health"), (200, {"status": "ok"}))
        self.assertEqual(self.call("POST", "/add", {"id": 1, "x": 2**63 - 1, "y": 1}),
                         (200, {"id": 1, "result": -2**63}))
        body = {"id": 2, "features": workload.ramp_features(256), "model": "modèle-ü"}
        status, reply = self.call("POST", "/score", body)
        self.assertEqual(status, 200, reply)
        self.assertEqual(struct.pack(">d", reply["score"]).hex(), RAMP_256_HEX)
        self.assertEqual((reply["id"], reply["label"]), (2, "fraud"))
        # The op may be given, and must match the path.
        self.assertEqual(self.call("POST", "/add", {"id": 3, "op": "add", "x": 1, "y": 1}),
                         (200, {"id": 3, "result": 2}))
        self.expect_error(*self.call("POST", "/add", {"id": 3, "op": "score", "x": 1, "y": 1}))

    def test_bad_input_gets_4xx_and_the_connection_keeps_serving(self):
        bad = [
            ("/add", {"x": "a", "y": 1}),
            ("/add", {"id": 1, "x": "a", "y": 1}),
            ("/add", {"id": 1, "x": 1.5, "y": 1}),
            ("/add", {"id": 1, "x": 2**63, "y": 1}),
            ("/add", {"id": 1, "x": 1}),
            ("/add", {"id": -1, "x": 1, "y": 1}),
            ("/add", [1, 2]),
            ("/add", '{"id": 1, "x": 1,'),  # malformed JSON
            ("/add", "\u00ff"),
            ("/score", {"id": 1, "features": [0.5] * 131073, "model": "m"}),
            ("/score", {"id": 1, "features": [], "model": "😀" * 257}),  # 1028 bytes
            ("/score", {"id": 1, "features": ["a"], "model": "m"}),
            ("/score", {"id": 1, "features": [1], "model": None}),
        ]
        for path, body in bad:
            with self.subTest(path=path, body=str(body)[:60]):
                self.expect_error(*self.call("POST", path, body))
                self.check_valid()
        ok = {"id": 1, "features": [0.5] * 131072, "model": "é" * 512}  # both at the bound
        self.assertEqual(self.call("POST", "/score", ok)[0], 200)

    def test_unknown_path_and_wrong_method(self):
        self.check_unknown_path_and_wrong_method()
        self.check_valid()

    def test_body_size_bound(self):
        # Exactly MAX_JSON_BYTES is served.
        body = b'{"id":1,"x":1,"y":2}' + b" " * (MAX_JSON_BYTES - 20)
        self.assertEqual(self.call("POST", "/add", body), (200, {"id": 1, "result": 3}))
        # One byte more is refused, before any body is read or as it arrives.
        self.check_body_over_the_bound_gets_413()
        # The peer still serves, on the first connection and on a new one.
        self.check_valid()
        fresh = self.connect()
        self.assertEqual(self.call("POST", "/add", {"id": 5, "x": 1, "y": 1}, conn=fresh),
                         (200, {"id": 5, "result": 2}))

    def test_sigterm_exits_zero(self):
        self.check_valid()
        stalled = self.connect()  # half a request, then nothing: must not delay the exit
        stalled.putrequest("POST", "/add")
        stalled.putheader("Content-Length", "100")
        stalled.endheaders()
        stalled.send(b'{"id": 1,')
        time.sleep(0.1)
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.wait_exit(self.proc), 0)
        self.assertEqual(self.remaining_stdout(self.proc), b"")
        self.assertNotIn("Traceback", self.stderr_of(self.proc))


def batch_items(reply):
    """A batch reply's items in the json_batch vectors' terms."""
    out = []
    for item in reply["items"]:
        if "error" in item:
            out.append({"error": True})
        elif "result" in item:
            out.append({"add": item["result"]})
        else:
            out.append({"score_hex": bits(item["score"]), "label": item["label"]})
    return out


class RestBatchTest(RestCase):
    """POST /batch (json_transports.md, Batches): item by item, against the
    json_batch vectors (the C++ reference's answers)."""

    def check_valid(self):
        self.assertEqual(self.call("POST", "/add", {"id": 9, "x": -7, "y": 3}), (200, {"id": 9, "result": -4}))

    def test_every_vector(self):
        for v in load_vectors()["json_batch"]:
            if "generated" in v:
                continue
            with self.subTest(v["name"]):
                id = json.loads(v["request_json"])["id"]
                status, reply = self.call("POST", "/batch", v["request_json"].encode())
                if v.get("refused"):
                    self.assertEqual(status, 400, reply)
                    self.assertEqual(reply["id"], id)
                    self.assertIsInstance(reply["error"], str)
                    self.assertNotIn("items", reply)
                else:
                    self.assertEqual(status, 200, reply)
                    self.assertEqual(reply["id"], id)
                    self.assertEqual(batch_items(reply), v["reply_items"])
                self.check_valid()

    def test_a_thousand_items_with_a_wrong_one(self):
        v = next(v for v in load_vectors()["json_batch"] if "generated" in v)
        g = v["generated"]
        items = [{"op": "add", "x": i * 1000003, "y": 7 - i} for i in range(g["count"])]
        del items[g["wrong"]]["y"]
        status, reply = self.call("POST", "/batch", {"id": g["id"], "op": "batch", "items": items})
        self.assertEqual((status, reply["id"], len(reply["items"])), (200, g["id"], g["count"]))
        self.assertEqual(list(reply["items"][g["wrong"]]), ["error"])
        for i, item in enumerate(reply["items"]):
            if i != g["wrong"]:
                self.assertEqual(item, {"result": workload.add(i * 1000003, 7 - i)})

    def test_items_answered_as_single_calls(self):
        """Each item's reply is the single call's reply without its id, bits included."""
        calls = [("add", {"x": 2**63 - 1, "y": 1}),
                 ("score", {"features": workload.ramp_features(256), "model": "modèle-ü"}),
                 ("score", {"features": [1e6], "model": ""}),
                 ("score", {"features": ["a"], "model": "m"}),  # wrong: an error item
                 ("add", {"x": 1})]  # wrong: no y
        status, reply = self.call("POST", "/batch", {"id": 4, "op": "batch",
                                                     "items": [{"op": op, **f} for op, f in calls]})
        self.assertEqual(status, 200, reply)
        for (op, fields), item in zip(calls, reply["items"]):
            single_status, single = self.call("POST", "/" + op, {"id": 1, **fields})
            if single_status == 200:
                del single["id"]
                self.assertEqual(item, single)
            else:
                self.assertEqual(list(item), ["error"])
        self.assertEqual(struct.pack(">d", reply["items"][1]["score"]).hex(), RAMP_256_HEX)

    def test_wrong_bodies_get_400_and_the_peer_keeps_serving(self):
        item = {"op": "add", "x": 1, "y": 2}
        bad = [({"id": 1, "op": "add", "x": 1, "y": 2}, 1),  # a single call is not a batch
               ({"id": 2, "items": [item]}, 2),  # no op
               ({"id": 3, "op": "score", "items": [item]}, 3),
               ({"op": "batch", "items": [item]}, None),  # no id
               ({"id": -1, "op": "batch", "items": [item]}, None),
               ({"id": 4, "op": "batch"}, 4),  # no items
               ({"id": 5, "op": "batch", "items": {"0": item}}, 5),
               ({"id": 6, "op": "batch", "items": []}, 6),
               ({"id": 7, "op": "batch", "items": [item] * 100001}, 7),
               ({"id": 8, "op": "batch", "items": [item, [item]]}, 8),
               ([item], None),
               ('{"id": 9, "op": "batch", "items": [', None)]  # malformed JSON
        for body, id in bad:
            with self.subTest(body=str(body)[:60]):
                status, reply = self.call("POST", "/batch", body)
                self.assertEqual(status, 400, reply)
                self.assertEqual((reply["id"], type(reply["error"])), (id, str))
                self.check_valid()
        # The most items there may be, each answered.
        status, reply = self.call("POST", "/batch", {"id": 10, "op": "batch", "items": [item] * 100000})
        self.assertEqual((status, len(reply["items"]), reply["items"][-1]), (200, 100000, {"result": 3}))

    def test_body_bound_and_method(self):
        body = b'{"id":1,"op":"batch","items":[{"op":"add","x":1,"y":2}]}'
        body += b" " * (MAX_JSON_BYTES - len(body))  # exactly the bound
        self.assertEqual(self.call("POST", "/batch", body), (200, {"id": 1, "items": [{"result": 3}]}))
        self.check_body_over_the_bound_gets_413("/batch")
        status, reply = self.call("GET", "/batch")
        self.assertEqual(status, 405)
        self.expect_error(status, reply)
        self.check_valid()


class RestEchoPeerTest(RestCase):
    """--echo: /add and /score send the body back unchanged, parsing nothing."""
    options = ("--echo",)

    def check_echo(self, path, body):
        self.assertEqual(self.exchange("POST", path, body), (200, body))

    def test_bodies_come_back_unchanged(self):
        self.assertEqual(self.call("GET", "/health"), (200, {"status": "ok"}))
        add, score = echo_requests()
        self.check_echo("/add", add)
        self.check_echo("/score", score)
        self.check_echo("/add", b'{"x": "a", not even JSON')  # nothing is parsed
        self.check_echo("/score", b"")
        batch = json.dumps({"id": 3, "op": "batch", "items": [json.loads(add), json.loads(score)]}).encode()
        self.check_echo("/batch", batch)
        self.check_echo("/batch", b'{"op": "add"}')  # nothing is parsed: not refused either

    def test_errors_and_body_bound_as_usual(self):
        self.check_unknown_path_and_wrong_method()
        body = b'{"id":1,"x":1,"y":2}' + b" " * (MAX_JSON_BYTES - 20)  # exactly the bound
        self.check_echo("/score", body)
        self.check_echo("/batch", body)
        self.check_body_over_the_bound_gets_413()
        self.check_body_over_the_bound_gets_413("/batch")
        add, _ = echo_requests()
        self.check_echo("/add", add)  # still serving, on the first connection
        self.assertEqual(self.exchange("POST", "/add", add, conn=self.connect()), (200, add))


class RestCommandLineTest(PeerTestCase):
    def test_refused_options(self):
        for extra, address in (((), "0.0.0.0:0"), (("--codec=raw",), "127.0.0.1:0")):
            with self.subTest(extra=extra, address=address):
                proc = self.start("rest", address, *extra, wait_ready=False)
                self.assertEqual(self.wait_exit(proc), 2)


if __name__ == "__main__":
    unittest.main()
