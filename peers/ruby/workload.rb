# frozen_string_literal: true

# The workload every peer serves (shared/DESIGN.md, "The workload"), matching
# common/workload.cc bit for bit:
#   add(x, y)              -> x + y wrapped to a signed 64-bit integer
#   score(features, model) -> [score, label]
#   echo(value, other)     -> value (the ffi floor, no workload)
#   add_batch(xs, ys)      -> [add(xs[i], ys[i]), ...]   (bench --batch=B)
#   score_batch(features, n, models) -> [[score, label], ...]
#
# The C++ harness also loads this file into an embedded libruby (the `ffi`
# tier) and calls Workload.add / score / echo / add_batch / score_batch with
# rb_funcall, so requiring it has no side effects and loads nothing else.
module Workload
  INT64_MIN = -(1 << 63)
  INT64_MAX = (1 << 63) - 1
  UINT64_MASK = (1 << 64) - 1
  TWO_POW_64 = 1 << 64

  # w(i) = ((i mod 7) - 3) * 0.25, computed exactly as the formula says
  # (the products are exact, so the table equals the per-index expression).
  WEIGHTS = Array.new(7) { |k| (k - 3) * 0.25 }.freeze

  FRAUD = "fraud"
  LEGIT = "legit"

  module_function

  # x + y with the two's-complement wrap of int64 in C++. Ruby Integers are
  # unbounded, so the sum is masked to 64 bits and re-signed when it leaves
  # the int64 range.
  def add(x, y)
    s = x + y
    return s if s >= INT64_MIN && s <= INT64_MAX

    s &= UINT64_MASK
    s > INT64_MAX ? s - TWO_POW_64 : s
  end

  # z = sum over i, in index order, of features[i] * w(i), starting at 0.0
  # and multiplying then adding in Float (binary64), as the C++ reference
  # does with -ffp-contract=off. `model` is accepted and ignored, like C++.
  # Returns [score, label]; the label strings are frozen and shared.
  def score(features, model = nil)
    z = 0.0
    if features.is_a?(Array)
      # Unrolled by 7 (one period of w) for speed: the same products, added
      # in the same order, so the same bits.
      n = features.size
      i = 0
      lim = n - 6
      while i < lim
        z += features[i] * -0.75
        z += features[i + 1] * -0.5
        z += features[i + 2] * -0.25
        z += features[i + 3] * 0.0
        z += features[i + 4] * 0.25
        z += features[i + 5] * 0.5
        z += features[i + 6] * 0.75
        i += 7
      end
      w = WEIGHTS
      k = 0
      while i < n
        z += features[i] * w[k]
        i += 1
        k += 1
      end
    else
      features.each_with_index { |f, idx| z += f * (((idx % 7) - 3) * 0.25) }
    end
    s = 1.0 / (1.0 + Math.exp(-z))
    [s, s >= 0.5 ? FRAUD : LEGIT]
  end

  # A batch of adds in one call (the ffi tier's --batch): `xs` and `ys` are
  # binary Strings of packed little-endian int64, the same length, so the
  # harness hands over B pairs as two buffers instead of 2B Ruby Integers.
  # Returns an Array of the B sums, item i being add(x[i], y[i]) exactly
  # (the same wrap); ArgumentError for lengths that do not pair up.
  def add_batch(xs, ys)
    unless xs.bytesize == ys.bytesize && (xs.bytesize % 8).zero?
      raise ArgumentError, "add_batch: xs and ys must be packed int64s of one length " \
                           "(#{xs.bytesize} and #{ys.bytesize} bytes)"
    end

    a = xs.unpack("q<*")
    b = ys.unpack("q<*")
    Array.new(a.size) { |i| add(a[i], b[i]) }
  end

  # A batch of scores in one call: `features` is a binary String of B * n
  # packed little-endian doubles, item i's features being elements
  # [i * n, n]; `models` the B model names. Returns an Array of B
  # [score, label], item i being score(its features, models[i]) bit for bit
  # (the same function on the same Floats); ArgumentError when the sizes do
  # not agree.
  def score_batch(features, n, models)
    count = models.size
    unless n.is_a?(Integer) && n >= 0 && features.bytesize == 8 * n * count
      raise ArgumentError, "score_batch: features must be #{count} x #{n} packed doubles, " \
                           "got #{features.bytesize} bytes"
    end

    all = features.unpack("E*")
    # all[i * n, n] shares all's storage (copy on write): no copy per item.
    Array.new(count) { |i| score(all[i * n, n], models[i]) }
  end

  # The in-process floor (peers/README.md, "Echo mode"): the harness passes
  # the row's two arguments (x and y, or the features and the model) and
  # gets the first back untouched, the very same object. The second is an
  # optional parameter, not *rest: a rest parameter allocates an Array on
  # every call, which made this floor slower than add (110 vs 65 ns).
  def echo(value, _other = nil)
    value
  end

  # f[i] = ((i * 37) mod 101) / 50.0 - 1.0, the deterministic feature vector
  # of the test vectors ({"ramp": n}) and of the harness.
  def ramp_features(n)
    Array.new(n) { |i| ((i * 37) % 101) / 50.0 - 1.0 }
  end
end
