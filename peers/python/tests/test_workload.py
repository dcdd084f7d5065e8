"""workload.add / workload.score against schemas/test_vectors.json, bit for bit."""

import array
import json
import math
import struct
import sys
import unittest
from pathlib import Path

PEER_DIR = Path(__file__).resolve().parent.parent
if str(PEER_DIR) not in sys.path:
    sys.path.insert(0, str(PEER_DIR))

import workload  # noqa: E402

VECTORS_PATH = PEER_DIR.parent.parent / "schemas" / "test_vectors.json"


def load_vectors():
    with open(VECTORS_PATH, encoding="utf-8") as f:
        return json.load(f)


def expand_features(spec):
    """A list of floats, or {"ramp": n}."""
    if isinstance(spec, dict):
        return workload.ramp_features(spec["ramp"])
    return [float(v) for v in spec]


def bits(x: float) -> str:
    """The IEEE-754 bits as score_hex writes them: most significant byte first
    (0.5 -> "3fe0000000000000"), i.e. struct.pack("<d") reversed."""
    return struct.pack(">d", x).hex()


class AddVectors(unittest.TestCase):
    def test_every_add_vector(self):
        vectors = load_vectors()["add"]
        self.assertTrue(vectors)
        for v in vectors:
            with self.subTest(v["name"]):
                r = workload.add(v["x"], v["y"])
                self.assertIsInstance(r, int)
                self.assertEqual(r, v["result"])

    def test_result_always_in_int64(self):
        lo, hi = -2**63, 2**63 - 1
        for x in (lo, -1, 0, 1, hi):
            for y in (lo, -1, 0, 1, hi):
                r = workload.add(x, y)
                self.assertTrue(lo <= r <= hi)
                self.assertEqual(r % 2**64, (x + y) % 2**64)


class ScoreVectors(unittest.TestCase):
    def test_every_score_vector(self):
        vectors = load_vectors()["score"]
        self.assertTrue(vectors)
        for v in vectors:
            features = expand_features(v["features"])
            with self.subTest(v["name"]):
                s, label = workload.score(features, v["model"])
                self.assertEqual(bits(s), v["score_hex"])
                self.assertEqual(s, v["score"])
                self.assertEqual(label, v["label"])

    def test_memoryview_features_give_the_same_bits(self):
        for v in load_vectors()["score"]:
            features = expand_features(v["features"])
            raw = struct.pack(f"<{len(features)}d", *features)
            with self.subTest(v["name"]):
                mv = memoryview(raw).cast("d")
                s, label = workload.score(mv, v["model"])
                self.assertEqual(bits(s), v["score_hex"])
                self.assertEqual(label, v["label"])

    def test_ramp_definition(self):
        f = workload.ramp_features(300)
        self.assertEqual(len(f), 300)
        for i, x in enumerate(f):
            self.assertEqual(x, ((i * 37) % 101) / 50.0 - 1.0)
        self.assertEqual(workload.ramp_features(0), [])

    def test_summed_in_index_order(self):
        # A plain loop, exactly as written in common/workload.cc.
        # 4e16 * 0.25 at i = 10007, then 2e16 * -0.5 at i = 10011: the big terms
        # cancel, and what is left depends on the order the rounding happened in.
        features = workload.ramp_features(10007) + [4e16, 1e-300, 0.0, 3.5, 2e16, 0.1]
        z = 0.0
        for i, f in enumerate(features):
            z += f * (((i % 7) - 3) * 0.25)
        expected = 1.0 / (1.0 + math.exp(-z))
        s, _ = workload.score(features, "x")
        self.assertEqual(bits(s), bits(expected))

    def test_exp_overflow_and_non_finite(self):
        self.assertEqual(workload.score([1e6], "m"), (0.0, "legit"))
        self.assertEqual(workload.score([-1e6], "m"), (1.0, "fraud"))
        self.assertEqual(workload.score([math.inf], "m"), (0.0, "legit"))  # z = -inf
        s, label = workload.score([math.nan], "m")
        self.assertTrue(math.isnan(s))
        self.assertEqual(label, "legit")  # NaN >= 0.5 is false, as in C++

    def test_model_does_not_change_the_score(self):
        f = workload.ramp_features(50)
        self.assertEqual(workload.score(f, "a"), workload.score(f, "モデル"))


class Batches(unittest.TestCase):
    """add_batch and score_batch, the ffi tier's --batch: called with
    memoryviews of the harness's arrays, bit-identical to per-item calls."""

    @staticmethod
    def int64_view(values):
        return memoryview(array.array("q", values))

    @staticmethod
    def double_view(values):
        # The harness's bytes cast to 'd', as pybind11 hands them over.
        return memoryview(struct.pack(f"<{len(values)}d", *values)).cast("d")

    def test_add_batch_is_add_per_item(self):
        lo, hi = -2**63, 2**63 - 1
        pairs = [(hi, 1), (lo, -1), (hi, hi), (lo, lo), (-1, -1), (0, 0), (2, 3), (hi, lo)]
        pairs += [(v["x"], v["y"]) for v in load_vectors()["add"]]
        xs = self.int64_view([x for x, _ in pairs])
        ys = self.int64_view([y for _, y in pairs])
        self.assertEqual(xs.format, "q")
        got = workload.add_batch(xs, ys)
        self.assertIsInstance(got, list)
        self.assertEqual(got, [workload.add(x, y) for x, y in pairs])
        self.assertEqual(got[:4], [lo, hi, -2, 0])  # wrapped like int64
        for r in got:
            self.assertIsInstance(r, int)
        # Plain lists work too, and a batch of one.
        self.assertEqual(workload.add_batch([hi], [1]), [lo])

    def test_add_batch_refuses_unequal_lengths(self):
        with self.assertRaises(ValueError):
            workload.add_batch(self.int64_view([1, 2]), self.int64_view([1]))

    def test_score_batch_is_score_per_item_bit_for_bit(self):
        vectors = [v for v in load_vectors()["score"]]
        for n in sorted({len(expand_features(v["features"])) for v in vectors}):
            items = [v for v in vectors if len(expand_features(v["features"])) == n]
            flat = [f for v in items for f in expand_features(v["features"])]
            models = [v["model"] for v in items]
            with self.subTest(n=n, items=len(items)):
                got = workload.score_batch(self.double_view(flat), n, models)
                self.assertEqual(len(got), len(items))
                for (s, label), v in zip(got, items):
                    self.assertEqual((bits(s), label), (v["score_hex"], v["label"]))

    def test_score_batch_many_items(self):
        n, count = 37, 500
        flat = workload.ramp_features(n * count)
        models = [f"m{i}" for i in range(count)]
        got = workload.score_batch(self.double_view(flat), n, models)
        want = [workload.score(flat[i * n:(i + 1) * n], models[i]) for i in range(count)]
        self.assertEqual([(bits(s), label) for s, label in got], [(bits(s), label) for s, label in want])
        self.assertIsInstance(got[0], tuple)
        # n = 0: every item scores an empty vector (z = 0, score 0.5, "fraud").
        self.assertEqual(workload.score_batch(self.double_view([]), 0, ["a", "b"]), [(0.5, "fraud")] * 2)

    def test_score_batch_refuses_a_wrong_length(self):
        for features, n, models in (([1.0] * 5, 2, ["a", "b"]), ([1.0] * 4, -2, ["a", "b"]),
                                    ([1.0] * 4, 2.0, ["a", "b"])):
            with self.subTest(n=n, features=len(features)):
                with self.assertRaises(ValueError):
                    workload.score_batch(self.double_view(features), n, models)

    def test_exported(self):
        for name in ("add_batch", "score_batch"):
            self.assertIn(name, workload.__all__)

    def test_importing_does_nothing_but_define_names(self):
        """The harness imports workload into its own process: the import must
        print nothing, start nothing and import nothing heavy."""
        import subprocess
        code = ("import sys; before = set(sys.modules); import workload; "
                "print(sorted(set(sys.modules) - before - {'workload'}))")
        out = subprocess.run([sys.executable, "-c", code], cwd=PEER_DIR, capture_output=True,
                             text=True, timeout=30, check=True)
        self.assertEqual(out.stderr, "")
        extra = eval(out.stdout)  # noqa: S307 (our own child's list of names)
        self.assertLessEqual(set(extra), {"itertools", "operator", "math"})


class Echo(unittest.TestCase):
    """The ffi floor: the harness calls echo with the rows' arguments."""

    def test_returns_its_first_argument_itself(self):
        self.assertEqual(workload.echo(2**63 - 1, 1), 2**63 - 1)
        features = workload.ramp_features(256)
        self.assertIs(workload.echo(features, "modèle-ü"), features)
        self.assertIn("echo", workload.__all__)


if __name__ == "__main__":
    unittest.main()
