"""The JSON messages of rest, redis and file (json_message), in memory."""

import json
import struct
import sys
import unittest
from pathlib import Path

PEER_DIR = Path(__file__).resolve().parent.parent
for _dir in (PEER_DIR, PEER_DIR / "tests"):
    if str(_dir) not in sys.path:
        sys.path.insert(0, str(_dir))

import json_message as jm  # noqa: E402
from test_workload import bits, expand_features, load_vectors  # noqa: E402


def request(**fields):
    return json.dumps(fields).encode()


class Replies(unittest.TestCase):
    def test_add_vectors(self):
        for v in load_vectors()["add"]:
            with self.subTest(v["name"]):
                reply = json.loads(jm.respond(request(id=7, op="add", x=v["x"], y=v["y"])))
                self.assertEqual(reply, {"id": 7, "result": v["result"]})

    def test_score_vectors_bit_for_bit(self):
        for v in load_vectors()["score"]:
            with self.subTest(v["name"]):
                data = request(id=2**64 - 1, op="score", features=expand_features(v["features"]),
                               model=v["model"])
                reply = json.loads(jm.respond(data))
                self.assertEqual(bits(reply["score"]), v["score_hex"])
                self.assertEqual(reply["label"], v["label"])
                self.assertEqual(reply["id"], 2**64 - 1)

    def test_op_implied_by_the_transport(self):
        self.assertEqual(jm.respond(b'{"id":1,"x":1,"y":2}', "add"), b'{"id":1,"result":3}')
        self.assertIn(b"error", jm.respond(b'{"id":1,"x":1,"y":2,"op":"score"}', "add"))
        self.assertIn(b"error", jm.respond(b'{"id":1,"x":1,"y":2}'))  # no op, none implied

    def test_integer_features_and_extra_fields(self):
        reply = json.loads(jm.respond(b'{"id":1,"op":"score","features":[1, 0.0],'
                                      b'"model":"m","reply_to":"k","extra":[1]}'))
        self.assertEqual(bits(reply["score"]), "3fd4885610b9b828")  # "one feature"

    def test_error_replies_carry_the_id_when_there_is_one(self):
        cases = {
            b"not json": None,
            b"[1, 2]": None,
            b'{"id": -1, "op": "add", "x": 1, "y": 1}': None,
            b'{"id": 18446744073709551616, "op": "add", "x": 1, "y": 1}': None,
            b'{"id": 3, "op": "add", "x": "a", "y": 1}': 3,
            b'{"id": 3, "op": "add", "x": 1.5, "y": 1}': 3,
            b'{"id": 3, "op": "add", "x": true, "y": 1}': 3,
            b'{"id": 3, "op": "add", "x": 9223372036854775808, "y": 1}': 3,
            b'{"id": 3, "op": "add", "x": -9223372036854775809, "y": 1}': 3,
            b'{"id": 3, "op": "add", "x": 1}': 3,
            b'{"id": 3, "op": "mul", "x": 1, "y": 1}': 3,
            b'{"id": 4, "op": "score", "features": "abc", "model": "m"}': 4,
            b'{"id": 4, "op": "score", "features": ["a"], "model": "m"}': 4,
            b'{"id": 4, "op": "score", "features": [null], "model": "m"}': 4,
            b'{"id": 4, "op": "score", "features": [1e400, 0, 0, 1e400], "model": "m"}': 4,
            b'{"id": 4, "op": "score", "features": [1], "model": 5}': 4,
            b'{"id": 4, "op": "score", "features": [1], "model": "' + b"\\ud800" * 300 + b'"}': 4,
            b'{"id": 5, "op": "score", "features": [NaN], "model": "m"}': None,  # not JSON
            b'{"id": 5, "op": "score", "features": [Infinity], "model": "m"}': None,
            b'\xff\xfe{}': None,
            b'{"a":' * 100000: None,  # nested too deeply
        }
        for data, id in cases.items():
            with self.subTest(data=data[:60]):
                reply = json.loads(jm.respond(data))
                self.assertEqual(set(reply), {"id", "error"})
                self.assertIsInstance(reply["error"], str)
                self.assertEqual(reply["id"], id)

    def test_bounds(self):
        features = [0.5] * jm.MAX_FEATURES
        ok = request(id=1, op="score", features=features, model="é" * 512)  # 1024 bytes
        self.assertIn(b'"score"', jm.respond(ok))
        too_many = request(id=1, op="score", features=features + [0.5], model="m")
        self.assertIn(b"131072", jm.respond(too_many))
        long_model = request(id=1, op="score", features=[], model="😀" * 257)  # 1028 bytes
        self.assertIn(b"1024", jm.respond(long_model))
        big = b'{"id":1,"op":"add","x":1,"y":2}' + b" " * (jm.MAX_JSON_BYTES - 31)
        self.assertEqual(len(big), jm.MAX_JSON_BYTES)
        self.assertEqual(jm.respond(big), b'{"id":1,"result":3}')
        self.assertIn(b"longer than", jm.respond(big + b" "))

    def test_error_message_is_bounded(self):
        reply = json.loads(jm.error_reply(1, "é" * 2000))
        self.assertLessEqual(len(reply["error"].encode()), 1024)

    def test_scores_round_trip_exactly(self):
        for n in (1, 3, 100, 257):
            features = expand_features({"ramp": n})
            reply = json.loads(jm.respond(request(id=1, op="score", features=features, model="m")))
            expected = __import__("workload").score(features)[0]
            self.assertEqual(struct.pack("<d", reply["score"]), struct.pack("<d", expected))


class Batches(unittest.TestCase):
    """json_transports.md, Batches, against the json_batch vectors (C++'s answers)."""

    @staticmethod
    def items_of(reply):
        out = []
        for item in reply["items"]:
            if "error" in item:
                out.append({"error": True})
            elif "result" in item:
                out.append({"add": item["result"]})
            else:
                out.append({"score_hex": bits(item["score"]), "label": item["label"]})
        return out

    def test_every_vector_item_by_item(self):
        vectors = load_vectors()["json_batch"]
        self.assertGreaterEqual(len(vectors), 6)
        for v in vectors:
            if "generated" in v:
                continue
            with self.subTest(v["name"]):
                reply = json.loads(jm.respond(v["request_json"].encode()))
                self.assertEqual(reply["id"], json.loads(v["request_json"])["id"])
                if v.get("refused"):
                    self.assertIsInstance(reply["error"], str)
                    self.assertNotIn("items", reply)
                else:
                    self.assertEqual(self.items_of(reply), v["reply_items"])

    def test_a_thousand_items_with_a_wrong_one(self):
        v = next(v for v in load_vectors()["json_batch"] if "generated" in v)
        g = v["generated"]
        items = [{"op": "add", "x": i * 1000003, "y": 7 - i} for i in range(g["count"])]
        del items[g["wrong"]]["y"]
        text = json.dumps({"id": g["id"], "op": "batch", "items": items}, separators=(",", ":"))
        self.assertEqual(len(text), v["request_json_bytes"])
        reply = json.loads(jm.respond(text.encode()))
        self.assertEqual(len(reply["items"]), g["count"])
        self.assertIn("error", reply["items"][g["wrong"]])
        results = b"".join(struct.pack("<q", item["result"])
                           for i, item in enumerate(reply["items"]) if i != g["wrong"])
        h = 0xcbf29ce484222325
        for b in results:
            h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
        self.assertEqual(f"{h:016x}", v["results_fnv1a64"])

    def test_a_rest_path_means_one_call(self):
        reply = json.loads(jm.respond(b'{"id":1,"op":"batch","items":[]}', "add"))
        self.assertIn("error", reply)


if __name__ == "__main__":
    unittest.main()
