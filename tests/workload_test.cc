// The C++ workload against the shared vectors (Python and Ruby check the same file).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "byte_digest.h"
#include "common/paths.h"
#include "common/workload.h"

namespace interop {
namespace {

nlohmann::json Vectors() {
  std::ifstream in(SourceDir() + "/schemas/test_vectors.json");
  return nlohmann::json::parse(in);
}

std::vector<double> Features(const nlohmann::json& f) {
  if (f.is_object()) return RampFeatures(f.at("ramp").get<std::size_t>());
  return f.get<std::vector<double>>();
}

TEST(Workload, AddMatchesEveryVector) {
  const auto v = Vectors();
  ASSERT_GE(v.at("add").size(), 5u);
  for (const auto& c : v.at("add")) {
    EXPECT_EQ(Add(c.at("x").get<int64_t>(), c.at("y").get<int64_t>()), c.at("result").get<int64_t>())
        << c.at("name");
  }
}

TEST(Workload, ScoreMatchesEveryVectorBitForBit) {
  const auto v = Vectors();
  ASSERT_GE(v.at("score").size(), 5u);
  for (const auto& c : v.at("score")) {
    const auto r = Score(Features(c.at("features")));
    EXPECT_EQ(test_bytes::HexOfDouble(r.score), c.at("score_hex").get<std::string>()) << c.at("name");
    EXPECT_EQ(std::string(r.label), c.at("label").get<std::string>()) << c.at("name");
  }
}

TEST(Workload, VectorsCoverTheEdgeCasesTheContractNames) {
  const auto v = Vectors();
  bool empty = false, large = false, non_ascii = false;
  for (const auto& c : v.at("score")) {
    const auto f = Features(c.at("features"));
    empty |= f.empty();
    large |= f.size() == 65536;
    for (unsigned char ch : c.at("model").get<std::string>()) non_ascii |= ch >= 0x80;
  }
  EXPECT_TRUE(empty && large && non_ascii);
}

TEST(Workload, LabelThresholdIsInclusive) {
  EXPECT_EQ(Score({}).score, 0.5);
  EXPECT_EQ(Score({}).label, "fraud");
}

}  // namespace
}  // namespace interop
