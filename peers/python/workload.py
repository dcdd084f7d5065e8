"""The benchmark workload: add and score, bit-identical to common/workload.cc,
their batches (add_batch, score_batch: the ffi tier's --batch), and echo, the
ffi tier's floor.

Imported by the peers and, in-process, by the C++ harness's ffi tier (embedded
CPython, ``import workload``), so importing this module does nothing but define
a few names.
"""

import math
import sys
from itertools import cycle
from operator import mul

__all__ = ["add", "score", "add_batch", "score_batch", "echo", "ramp_features"]

_INT64_MIN = -0x8000000000000000
_INT64_MAX = 0x7FFFFFFFFFFFFFFF
_BIAS = 0x8000000000000000
_MASK = 0xFFFFFFFFFFFFFFFF

# w(i) = ((i mod 7) - 3) * 0.25; every value is exact in binary64.
_WEIGHTS = tuple(((i % 7) - 3) * 0.25 for i in range(7))


def add(x: int, y: int) -> int:
    """x + y wrapped to signed int64, like the C++ reference (two's complement)."""
    r = x + y
    if _INT64_MIN <= r <= _INT64_MAX:
        return r
    return ((r + _BIAS) & _MASK) - _BIAS


if sys.version_info < (3, 12):
    # Before 3.12, sum() over floats is a plain left-to-right double addition,
    # which is exactly `z += f[i] * w(i)` in index order, and runs in C.
    def _dot(features) -> float:
        return sum(map(mul, features, cycle(_WEIGHTS)), 0.0)
else:
    # 3.12+ sum() uses compensated summation, which would round differently.
    def _dot(features) -> float:
        z = 0.0
        for f, w in zip(features, cycle(_WEIGHTS)):
            z += f * w
        return z


def score(features, model: str = "") -> "tuple[float, str]":
    """Logistic score of the weighted feature sum; `model` does not change it.

    `features` is any sequence of floats (a list, or a memoryview cast to 'd').
    """
    z = _dot(features)
    try:
        e = math.exp(-z)
    except OverflowError:
        # C's exp() returns +inf here, and 1 / (1 + inf) == 0.0.
        return 0.0, "legit"
    s = 1.0 / (1.0 + e)
    return s, ("fraud" if s >= 0.5 else "legit")


def add_batch(xs, ys) -> "list[int]":
    """[add(x, y) for each pair]: B adds in one crossing. `xs` and `ys` are
    sequences of ints of one length (the harness passes memoryviews of its
    int64 arrays, format 'q'). Each item goes through add() itself, so a
    batch does the very work of its B single calls."""
    if len(xs) != len(ys):
        raise ValueError(f"add_batch: {len(xs)} xs but {len(ys)} ys")
    return list(map(add, xs, ys))


def score_batch(features, n: int, models) -> "list[tuple[float, str]]":
    """[score(features[i*n:(i+1)*n], models[i]) for each i]: B scores of n
    features each in one crossing. `features` is a flat sequence of
    len(models) * n floats (the harness passes a memoryview cast to 'd', so
    each item's slice is a view, not a copy); the bits are those of B single
    calls to score()."""
    count = len(models)
    if type(n) is not int or n < 0 or len(features) != count * n:
        raise ValueError(f"score_batch: {len(features)} features are not {count} items of {n!r}")
    return [score(features[i * n:i * n + n], model) for i, model in enumerate(models)]


def echo(value, *rest):
    """The ffi floor: `value` itself, untouched. The harness passes it the
    row's arguments (x and y, or features and model): only the work is left out."""
    return value


def ramp_features(n: int) -> "list[float]":
    """The shared test input: f[i] = ((i * 37) mod 101) / 50.0 - 1.0."""
    return [((i * 37) % 101) / 50.0 - 1.0 for i in range(n)]
