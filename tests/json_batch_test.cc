// JSON batches (schemas/json_transports.md, Batches) against
// schemas/test_vectors.json's json_batch vectors: the C++ peer's answer,
// item by item, as Python and Ruby must give it too.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "byte_digest.h"
#include "common/paths.h"
#include "transports/json/json_codec.h"

namespace interop {
namespace {

using nlohmann::json;

json JsonBatchVectors() {
  std::ifstream in(SourceDir() + "/schemas/test_vectors.json");
  return json::parse(in).at("json_batch");
}

std::string HexOf(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(bits));
  return buf;
}

// The reply's items in the vectors' form: {"add": r}, {"score_hex", "label"}, {"error": true}.
json ItemsOf(const json& reply) {
  json items = json::array();
  for (const auto& item : reply.at("items")) {
    if (item.contains("error")) {
      EXPECT_TRUE(item.at("error").is_string());
      items.push_back({{"error", true}});
    } else if (item.contains("result")) {
      items.push_back({{"add", item.at("result").get<int64_t>()}});
    } else {
      items.push_back({{"score_hex", HexOf(item.at("score").get<double>())}, {"label", item.at("label")}});
    }
  }
  return items;
}

TEST(JsonBatch, EveryVectorIsAnsweredItemByItem) {
  const json vectors = JsonBatchVectors();
  ASSERT_GE(vectors.size(), 6u);
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.at("name").get<std::string>());
    if (v.contains("generated")) continue;
    const auto answer = json_codec::AnswerRequest(v.at("request_json").get<std::string>(), std::nullopt);
    const json reply = json::parse(answer.body);
    EXPECT_EQ(reply.at("id"), json::parse(v.at("request_json").get<std::string>()).at("id"));
    if (v.value("refused", false)) {
      EXPECT_EQ(answer.http_status, 400);
      EXPECT_TRUE(reply.at("error").is_string());
      EXPECT_FALSE(reply.contains("items"));
    } else {
      EXPECT_EQ(answer.http_status, 200);
      EXPECT_EQ(ItemsOf(reply), v.at("reply_items"));
    }
  }
}

TEST(JsonBatch, AThousandItemsWithAWrongOneInTheMiddle) {
  const json vectors = JsonBatchVectors();
  const auto it = std::find_if(vectors.begin(), vectors.end(), [](const json& v) { return v.contains("generated"); });
  ASSERT_NE(it, vectors.end());
  const json& g = it->at("generated");
  const int64_t count = g.at("count"), wrong = g.at("wrong");
  json items = json::array();
  for (int64_t i = 0; i < count; ++i) {
    json item = {{"op", "add"}, {"x", i * 1000003}};
    if (i != wrong) item["y"] = 7 - i;
    items.push_back(item);
  }
  const std::string text = json{{"id", g.at("id")}, {"op", "batch"}, {"items", items}}.dump();
  EXPECT_EQ(text.size(), it->at("request_json_bytes").get<std::size_t>());
  const auto answer = json_codec::AnswerRequest(text, std::nullopt);
  ASSERT_EQ(answer.http_status, 200) << answer.body;
  const json reply = json::parse(answer.body);
  ASSERT_EQ(reply.at("items").size(), static_cast<std::size_t>(count));
  std::vector<uint8_t> results;
  for (int64_t i = 0; i < count; ++i) {
    const json& item = reply["items"][i];
    if (i == wrong) {
      EXPECT_TRUE(item.contains("error")) << item;
      continue;
    }
    const auto r = static_cast<uint64_t>(item.at("result").get<int64_t>());
    for (int b = 0; b < 8; ++b) results.push_back(static_cast<uint8_t>(r >> (8 * b)));
  }
  EXPECT_EQ(test_bytes::Fnv1a64(results), it->at("results_fnv1a64"));
}

TEST(JsonBatch, ARestPathStillMeansOneCall) {
  // Over REST the path names the op; a batch body there is not a batch.
  const auto answer = json_codec::AnswerRequest(R"({"id":1,"op":"batch","items":[]})", Op::kAdd);
  EXPECT_EQ(answer.http_status, 400);
}

}  // namespace
}  // namespace interop
