// The harness's JSON codec (transports/json): what it writes, read back by
// another library (nlohmann/json, which the C++ peer answers with), and what
// it accepts as a reply, which must be as strict as a check of every reply.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/workload.h"
#include "transports/json/json_codec.h"

namespace interop {
namespace {

using ::testing::HasSubstr;

TEST(JsonCodec, AnAddRequestReadsBackExactly) {
  Request r;
  r.id = 18446744073709551615ULL;  // the largest id
  r.op = Op::kAdd;
  r.x = std::numeric_limits<int64_t>::min();
  r.y = -7;
  std::string out;
  json_codec::EncodeRequest(r, /*include_op=*/true, "interop:1:reply:1", out);
  const auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j.at("id").get<uint64_t>(), r.id);
  EXPECT_EQ(j.at("op"), "add");
  EXPECT_EQ(j.at("x").get<int64_t>(), r.x);
  EXPECT_EQ(j.at("y").get<int64_t>(), r.y);
  EXPECT_EQ(j.at("reply_to"), "interop:1:reply:1");
  json_codec::EncodeRequest(r, /*include_op=*/false, {}, out);  // over REST: no op, no reply_to
  EXPECT_EQ(out, "{\"id\":18446744073709551615,\"x\":-9223372036854775808,\"y\":-7}");
}

TEST(JsonCodec, AScoreRequestCarriesEveryDoubleBitForBitAndTheModelEscaped) {
  std::vector<double> features = RampFeatures(300);  // whole ones among them (-1.0)
  for (double v : {5e-324, -0.0, 1e300, 0.1, 123456789.0, -2.5e-10}) features.push_back(v);
  Request r;
  r.id = 3;
  r.op = Op::kScore;
  r.features = features;
  const std::string model = "m \"q\" \\ \n\t\x01 \xC3\xA9\xE2\x82\xAC";  // quotes, escapes, control, UTF-8
  r.model = model;
  std::string out;
  json_codec::EncodeRequest(r, true, {}, out);
  const auto j = nlohmann::json::parse(out);
  const auto& f = j.at("features");
  ASSERT_EQ(f.size(), features.size());
  for (std::size_t i = 0; i < features.size(); ++i) {
    EXPECT_TRUE(f[i].is_number_float()) << i << ": " << f[i].dump();  // -1.0 is written "-1.0", not "-1"
    const double back = f[i].get<double>();
    EXPECT_EQ(std::memcmp(&back, &features[i], sizeof back), 0) << i;
  }
  EXPECT_EQ(j.at("model").get<std::string>(), model);
  // The C++ peer answers it as if nlohmann had written it.
  const auto answer = json_codec::AnswerRequest(out, std::nullopt);
  ASSERT_EQ(answer.http_status, 200) << answer.body;
  const double expected = Score(features).score;
  const double got = nlohmann::json::parse(answer.body).at("score").get<double>();
  EXPECT_EQ(std::memcmp(&got, &expected, sizeof got), 0);
}

Reply Decoded(std::string_view text, Op op) {
  json_codec::ReplyDecoder decoder;
  Reply r;
  decoder.Decode(text, op, r);
  return r;
}

TEST(JsonCodec, RightRepliesDecode) {
  const Reply add = Decoded(R"({"id":7,"result":-9223372036854775808})", Op::kAdd);
  EXPECT_TRUE(add.error.empty()) << add.error;
  EXPECT_EQ(add.kind, ReplyKind::kAdd);
  EXPECT_EQ(add.id, 7u);
  EXPECT_EQ(add.result, std::numeric_limits<int64_t>::min());
  const Reply score = Decoded(R"( { "label" : "fraud", "score":0.75, "id":18446744073709551615 } )", Op::kScore);
  EXPECT_TRUE(score.error.empty()) << score.error;
  EXPECT_EQ(score.kind, ReplyKind::kScore);
  EXPECT_EQ(score.id, 18446744073709551615ULL);
  EXPECT_EQ(score.score, 0.75);
  EXPECT_EQ(score.label, "fraud");
  EXPECT_EQ(Decoded(R"({"id":1,"score":1,"label":"legit"})", Op::kScore).score, 1.0);  // an integer is a number
}

TEST(JsonCodec, WrongRepliesAreErrorsNeverAnswers) {
  struct Case {
    const char* text;
    Op op;
    const char* error;
  };
  for (const Case& c : std::initializer_list<Case>{
           {R"({"id":1,"error":"bad x"})", Op::kAdd, "peer error: bad x"},
           {R"({"id":1,"error":{"code":3}})", Op::kAdd, "peer error: {\"code\":3}"},
           {R"({"id":1,"result":2} trailing)", Op::kAdd, "not a JSON object"},
           {R"({"id":1,"result":)", Op::kAdd, "not a JSON object"},
           {R"([1,2])", Op::kAdd, "not a JSON object"},
           {"", Op::kAdd, "not a JSON object"},
           {R"({"result":2})", Op::kAdd, "reply has no id"},
           {R"({"id":-1,"result":2})", Op::kAdd, "reply has no id"},
           {R"({"id":1.0,"result":2})", Op::kAdd, "reply has no id"},
           {R"({"id":"1","result":2})", Op::kAdd, "reply has no id"},
           {R"({"id":1,"result":9223372036854775808})", Op::kAdd, "no int64 result"},  // forgot to wrap
           {R"({"id":1,"result":2.0})", Op::kAdd, "no int64 result"},
           {R"({"id":1,"score":0.5,"label":"legit"})", Op::kAdd, "no int64 result"},  // the other kind
           {R"({"id":1,"result":2})", Op::kScore, "lacks score or label"},
           {R"({"id":1,"score":"0.5","label":"legit"})", Op::kScore, "lacks score or label"},
           {R"({"id":1,"score":0.5,"label":5})", Op::kScore, "lacks score or label"},
       }) {
    const Reply r = Decoded(c.text, c.op);
    EXPECT_THAT(r.error, HasSubstr(c.error)) << c.text;
    EXPECT_EQ(r.kind, ReplyKind::kNone) << c.text;
  }
}

TEST(JsonCodec, OneDecoderServesCallAfterCall) {
  json_codec::ReplyDecoder decoder;
  for (int i = 0; i < 3; ++i) {
    Reply r;
    decoder.Decode(i == 1 ? std::string_view("{bad") : std::string_view(R"({"id":2,"result":4})"), Op::kAdd, r);
    EXPECT_EQ(r.error.empty(), i != 1) << i;
  }
}

}  // namespace
}  // namespace interop
