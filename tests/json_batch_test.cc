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
      items.push_back({{"score_hex", test_bytes::HexOfDouble(item.at("score").get<double>())}, {"label", item.at("label")}});
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

TEST(JsonBatch, PostBatchTakesOnlyABatch) {
  EXPECT_EQ(json_codec::AnswerBatchBody(R"({"id":1,"op":"batch","items":[{"op":"add","x":1,"y":2}]})").http_status, 200);
  const auto single = json_codec::AnswerBatchBody(R"({"id":1,"op":"add","x":1,"y":2})");
  EXPECT_EQ(single.http_status, 400);
  EXPECT_NE(single.body.find("POST /batch takes a body whose op is"), std::string::npos) << single.body;
}

// The harness's side: a batch request encodes to the vectors' very text
// (which nlohmann wrote, in the same field order), and a batch reply
// decodes into one reply per item, errors in their places.
TEST(JsonBatch, TheHarnessEncodesAndDecodesBatchesAsTheVectorsSay) {
  for (const auto& v : JsonBatchVectors()) {
    SCOPED_TRACE(v.at("name").get<std::string>());
    if (v.contains("generated") || v.value("refused", false)) continue;
    const json request = json::parse(v.at("request_json").get<std::string>());
    // Only well-formed calls can be made as Requests: the vectors' wrong
    // items (a string x, an unknown op) are not.
    bool all_calls = true;
    for (const auto& item : request.at("items")) {
      all_calls &= (item.at("op") == "add" && item.at("x").is_number_integer() && item.contains("y")) ||
                   item.at("op") == "score";
    }
    std::vector<std::vector<double>> features;
    std::vector<std::string> models;
    std::vector<Request> items;
    for (const auto& item : request.at("items")) {
      features.push_back(item.value("features", std::vector<double>{}));
      models.push_back(item.value("model", std::string()));
    }
    for (std::size_t i = 0; i < request.at("items").size(); ++i) {
      const auto& item = request["items"][i];
      Request r;
      r.op = item.at("op") == "score" ? Op::kScore : Op::kAdd;
      if (r.op == Op::kAdd && all_calls) {
        r.x = item.at("x");
        r.y = item.at("y");
      }
      r.features = features[i];
      r.model = models[i];
      items.push_back(r);
    }
    Request batch;
    batch.id = request.at("id");
    batch.items = items;
    if (all_calls) {
      std::string text;
      json_codec::EncodeRequest(batch, /*include_op=*/false, {}, text);
      EXPECT_EQ(text, v.at("request_json").get<std::string>());
    }
    const auto answer = json_codec::AnswerRequest(v.at("request_json").get<std::string>(), std::nullopt);
    Reply reply;
    json_codec::ReplyDecoder decoder;
    decoder.Decode(answer.body, items.front().op, reply);
    EXPECT_EQ(reply.error, "");
    EXPECT_EQ(reply.kind, ReplyKind::kBatch);
    EXPECT_EQ(reply.id, batch.id);
    const json& want = v.at("reply_items");
    ASSERT_EQ(reply.items.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) {
      if (want[i].contains("error")) {
        EXPECT_NE(reply.items[i].error, "") << i;
      } else if (want[i].contains("add")) {
        EXPECT_EQ(reply.items[i].result, want[i]["add"].get<int64_t>()) << i;
      } else {
        EXPECT_EQ(test_bytes::HexOfDouble(reply.items[i].score), want[i]["score_hex"].get<std::string>()) << i;
        EXPECT_EQ(reply.items[i].label, want[i]["label"].get<std::string>()) << i;
      }
    }
  }
}

}  // namespace
}  // namespace interop
