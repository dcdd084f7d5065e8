// The benchmark's workload, identical in C++, Python and Ruby (DESIGN.md).
// Every peer must give bit-identical answers; schemas/test_vectors.json checks it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace interop {

// x + y with two's-complement wrap, as int64 arithmetic does on every target
// we run on (computed on uint64 so the wrap is defined behaviour in C++).
int64_t Add(int64_t x, int64_t y);

struct ScoreResult {
  double score;
  std::string_view label;  // "fraud" or "legit" (static storage)
};

// z = sum over i, in index order, of features[i] * w(i), w(i) = ((i mod 7) - 3) * 0.25;
// score = 1 / (1 + exp(-z)); label = "fraud" when score >= 0.5.
// The model name is part of the request but does not change the answer.
ScoreResult Score(std::span<const double> features);

// The deterministic feature vector the harness and the test vectors use:
// f[i] = ((i * 37) mod 101) / 50.0 - 1.0  (exact in every language).
std::vector<double> RampFeatures(std::size_t n);

}  // namespace interop
