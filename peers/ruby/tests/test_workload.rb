# frozen_string_literal: true

require "minitest/autorun"
require "json"
require "rbconfig"
require_relative "../workload"

# Every vector of schemas/test_vectors.json, reproduced bit for bit.
class TestWorkload < Minitest::Test
  VECTORS_PATH = File.expand_path("../../../schemas/test_vectors.json", __dir__)
  VECTORS = JSON.parse(File.read(VECTORS_PATH))

  def self.features_of(vector)
    f = vector.fetch("features")
    f.is_a?(Hash) ? Workload.ramp_features(f.fetch("ramp")) : f.map(&:to_f)
  end

  # score_hex is the IEEE-754 bits as one big-endian 64-bit hex number.
  def bits(x)
    [x].pack("G").unpack1("H*")
  end

  def test_vectors_present
    refute_empty VECTORS.fetch("add")
    refute_empty VECTORS.fetch("score")
  end

  VECTORS.fetch("add").each_with_index do |v, i|
    define_method("test_add_#{i}_#{v['name'].gsub(/\W+/, '_')}") do
      assert_equal v.fetch("result"), Workload.add(v.fetch("x"), v.fetch("y")), v["name"]
    end
  end

  VECTORS.fetch("score").each_with_index do |v, i|
    define_method("test_score_#{i}_#{v['name'].gsub(/\W+/, '_')}") do
      features = self.class.features_of(v)
      score, label = Workload.score(features, v.fetch("model"))
      assert_instance_of Float, score
      assert_equal v.fetch("score_hex"), bits(score), v["name"]
      assert_equal v.fetch("label"), label, v["name"]
      # The generic path (any Enumerable, per-index weight expression) agrees.
      score2, label2 = Workload.score(features.each, v.fetch("model"))
      assert_equal v.fetch("score_hex"), bits(score2), "#{v['name']} via Enumerator"
      assert_equal label, label2
    end
  end

  def test_add_results_stay_in_int64
    min = -(1 << 63)
    max = (1 << 63) - 1
    [[max, max], [min, min], [max, min], [min, -1], [max, 1], [0, min]].each do |x, y|
      r = Workload.add(x, y)
      assert_operator r, :>=, min
      assert_operator r, :<=, max
      assert_equal [x + y].pack("Q<").unpack1("q<"), r # two's complement wrap
    end
  end

  def test_ramp_features
    f = Workload.ramp_features(300)
    assert_equal 300, f.size
    f.each_with_index { |x, i| assert_equal ((i * 37) % 101) / 50.0 - 1.0, x }
    assert_equal(-1.0, f[0])
    assert_equal 0.48, f[2] # (74 / 50.0) - 1.0
    assert_empty Workload.ramp_features(0)
  end

  # The unrolled Array loop and the plain per-index formula agree bit for bit
  # for every length around the unroll period, and on inf/NaN inputs.
  def test_array_path_matches_formula
    rng = Random.new(7)
    (0..30).each do |n|
      f = Array.new(n) { rng.rand(-1e3..1e3) }
      z = 0.0
      f.each_with_index { |x, i| z += x * (((i % 7) - 3) * 0.25) }
      expected = 1.0 / (1.0 + Math.exp(-z))
      assert_equal bits(expected), bits(Workload.score(f, "m")[0]), "n=#{n}"
    end
    assert Workload.score([1.0, 2.0, 3.0, Float::INFINITY], "m")[0].nan? # inf * 0.0
    assert Workload.score([Float::NAN], "m")[0].nan?
    assert_equal "legit", Workload.score([Float::NAN], "m")[1]
  end

  def test_labels
    assert_equal "fraud", Workload.score([], "m")[1] # 0.5 is fraud
    assert_equal "legit", Workload.score([1.0], "m")[1]
    assert_equal "fraud", Workload.score([-1.0], "m")[1]
  end

  # The ffi floor: the first argument back, the very same object, as the
  # harness calls it (x and y, or the features and the model).
  def test_echo_returns_its_first_argument
    assert_equal 7, Workload.echo(7, 8)
    features = Workload.ramp_features(256)
    assert_same features, Workload.echo(features, "fraud-v3")
    assert_same features, Workload.echo(features)
  end

  # It allocates nothing (a *rest parameter would make an Array per call,
  # and the floor would cost more than add).
  def test_echo_allocates_nothing
    features = [1.0]
    before = GC.stat(:total_allocated_objects)
    1000.times { Workload.echo(features, "m") }
    assert_operator GC.stat(:total_allocated_objects) - before, :<, 100
  end

  # ------------------------------------------------ batches (the ffi tier)

  def pack_q(values) = values.pack("q<*")

  def test_add_batch_matches_add_on_every_vector
    vs = VECTORS.fetch("add")
    xs = pack_q(vs.map { |v| v.fetch("x") })
    ys = pack_q(vs.map { |v| v.fetch("y") })
    assert_equal vs.map { |v| v.fetch("result") }, Workload.add_batch(xs, ys)
    min = -(1 << 63)
    max = (1 << 63) - 1
    assert_equal [min, max, -2, 0], Workload.add_batch(pack_q([max, min, max, min]), pack_q([1, -1, max, min]))
    assert_equal [], Workload.add_batch("".b, "".b)
  end

  def test_add_batch_of_many
    n = 100_000
    r = Workload.add_batch(pack_q(Array.new(n) { |i| i * 1_000_003 }), pack_q(Array.new(n) { |i| 7 - i }))
    assert_equal Array.new(n) { |i| Workload.add(i * 1_000_003, 7 - i) }, r
  end

  def test_add_batch_refuses_lengths_that_do_not_pair_up
    assert_raises(ArgumentError) { Workload.add_batch(pack_q([1, 2]), pack_q([1])) }
    assert_raises(ArgumentError) { Workload.add_batch("\0".b * 12, "\0".b * 12) }
  end

  # Each score vector as a batch of one, and three times over in one batch:
  # every item bit for bit the vector's score.
  def test_score_batch_matches_every_vector
    VECTORS.fetch("score").each do |v|
      features = self.class.features_of(v)
      packed = features.pack("E*")
      [1, 3].each do |b|
        got = Workload.score_batch(packed * b, features.size, [v.fetch("model")] * b)
        assert_equal [[v.fetch("score_hex"), v.fetch("label")]] * b,
                     got.map { |score, label| [bits(score), label] }, "#{v['name']} x#{b}"
      end
    end
  end

  # Items of one batch with different features: item i is elements
  # [i * n, n] with models[i], as score would give it.
  def test_score_batch_items_are_their_own_slices
    n = 13
    b = 50
    all = Workload.ramp_features(n * b).each_with_index.map { |f, i| f * (1 + (i % 5)) }
    models = Array.new(b) { |i| "m#{i}" }
    got = Workload.score_batch(all.pack("E*"), n, models)
    want = Array.new(b) { |i| Workload.score(all[i * n, n], models[i]) }
    assert_equal want.map { |s, l| [bits(s), l] }, got.map { |s, l| [bits(s), l] }
    assert_includes got.map(&:last), "fraud"
    assert_includes got.map(&:last), "legit"
    assert_equal [[0.5, "fraud"]] * 2, Workload.score_batch("".b, 0, %w[a b])
  end

  def test_score_batch_refuses_sizes_that_do_not_agree
    assert_raises(ArgumentError) { Workload.score_batch([1.0].pack("E*"), 2, ["m"]) }
    assert_raises(ArgumentError) { Workload.score_batch([1.0, 2.0].pack("E*"), 1, ["m"]) }
    assert_raises(ArgumentError) { Workload.score_batch("".b, -1, []) }
  end

  # The floor takes the batch calls' arguments too and gives the first back.
  def test_echo_takes_batch_arguments
    xs = pack_q([1, 2])
    assert_same xs, Workload.echo(xs, pack_q([3, 4]))
  end

  # The embedded interpreter requires this file: it defines Workload and
  # nothing else, loads no other file, and writes nothing.
  def test_requiring_has_no_side_effects
    script = <<~RUBY
      before = Object.constants
      loaded = $LOADED_FEATURES.size
      require #{File.expand_path('../workload.rb', __dir__).inspect}
      print (Object.constants - before).inspect, " ", $LOADED_FEATURES.size - loaded
    RUBY
    out = IO.popen([RbConfig.ruby, "-e", script], err: %i[child out], &:read)
    assert_equal "[:Workload] 1", out
  end

  def test_model_is_optional
    assert_equal Workload.score([0.4, 1.2], "fraud-v3"), Workload.score([0.4, 1.2])
  end
end
