# frozen_string_literal: true

require "minitest/autorun"
require "json"
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

  def test_model_is_optional
    assert_equal Workload.score([0.4, 1.2], "fraud-v3"), Workload.score([0.4, 1.2])
  end
end
