// The three codecs (--codec) against schemas/test_vectors.json's `codecs`,
// which the Python and Ruby peers' tests read too: the harness's encodings
// bit for bit, the C++ peer's answers, and every reply form decoded to the
// reference's values.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "byte_digest.h"
#include "common/paths.h"
#include "common/workload.h"
#include "transports/codec/codec.h"
#include "transports/codec/protobuf_messages.h"
#include "transports/raw_stream/raw_answer.h"

namespace interop {
namespace {

using nlohmann::json;
using test_bytes::Fnv1a64;
using test_bytes::HexBytes;

json CodecVectors() {
  std::ifstream in(SourceDir() + "/schemas/test_vectors.json");
  return json::parse(in).at("codecs");
}

// A vector's request, with the storage its views point into.
struct Built {
  std::vector<std::vector<double>> features;
  std::vector<std::string> models;
  std::vector<Request> items;
  Request request;
};

void BuildCall(const json& call, Built& b, Request& out) {
  if (call.contains("add")) {
    out.op = Op::kAdd;
    out.x = call["add"][0];
    out.y = call["add"][1];
    return;
  }
  const auto& f = call["score"]["features"];
  b.features.push_back(f.is_object() ? RampFeatures(f["ramp"].get<std::size_t>()) : f.get<std::vector<double>>());
  b.models.push_back(call["score"]["model"]);
  out.op = Op::kScore;
  out.features = b.features.back();
  out.model = b.models.back();
}

std::unique_ptr<Built> Build(const json& spec) {
  auto b = std::make_unique<Built>();
  b->features.reserve(16);
  b->models.reserve(16);
  b->request.id = spec["id"];
  if (spec.contains("batch")) {
    b->items.resize(spec["batch"].size());
    for (std::size_t i = 0; i < b->items.size(); ++i) BuildCall(spec["batch"][i], *b, b->items[i]);
    b->request.items = b->items;
  } else {
    BuildCall(spec, *b, b->request);
  }
  return b;
}

void ExpectBytes(const json& v, const std::string& key, std::string_view bytes) {
  const std::vector<uint8_t> b(bytes.begin(), bytes.end());
  if (v.contains(key + "_hex")) EXPECT_EQ(HexBytes(b), v.at(key + "_hex").get<std::string>()) << key;
  else EXPECT_EQ(Fnv1a64(b), v.at(key + "_fnv1a64").get<std::string>()) << key;
}

std::string Bytes(const json& v, const std::string& key) {
  const auto b = test_bytes::BytesOfHex(v.at(key + "_hex").get<std::string>());
  return {b.begin(), b.end()};
}

void ExpectReply(const json& v, const Reply& reply, uint64_t id) {
  EXPECT_EQ(reply.error, "");
  EXPECT_EQ(reply.id, id);
  auto one = [](const json& want, const Reply& got) {
    if (want.contains("add")) {
      EXPECT_EQ(got.kind, ReplyKind::kAdd);
      EXPECT_EQ(got.result, want["add"].get<int64_t>());
    } else {
      EXPECT_EQ(got.kind, ReplyKind::kScore);
      EXPECT_EQ(test_bytes::HexOfDouble(got.score), want["score_hex"].get<std::string>());
      EXPECT_EQ(got.label, want["label"].get<std::string>());
    }
  };
  if (v.contains("reply_items")) {
    EXPECT_EQ(reply.kind, ReplyKind::kBatch);
    ASSERT_EQ(reply.items.size(), v["reply_items"].size());
    for (std::size_t i = 0; i < reply.items.size(); ++i) one(v["reply_items"][i], reply.items[i]);
  } else {
    one(v["reply"], reply);
  }
}

TEST(CodecVectors, TheHarnessEncodesEveryCodecBitForBit) {
  const json vectors = CodecVectors();
  ASSERT_GE(vectors.size(), 7u);
  for (const auto& v : vectors) {
    SCOPED_TRACE(v.at("name").get<std::string>());
    const auto built = Build(v.at("request"));
    for (Codec c : {Codec::kRaw, Codec::kJson, Codec::kProtobuf}) {
      const std::string name(CodecName(c));
      MessageCodec codec(c);
      std::string alone;
      codec.Encode(built->request, {}, alone);
      if (c == Codec::kJson && v.contains("json")) EXPECT_EQ(alone, v["json"].get<std::string>());
      else ExpectBytes(v, name, alone);
      std::vector<uint8_t> framed;
      codec.EncodeFramed(built->request, framed);
      ExpectBytes(v, c == Codec::kRaw ? "raw" : name + "_framed", {reinterpret_cast<const char*>(framed.data()),
                                                                    framed.size()});
    }
  }
}

TEST(CodecVectors, ThePeerAnswersEveryFramedCodecAsTheVectorsSay) {
  for (const auto& v : CodecVectors()) {
    SCOPED_TRACE(v.at("name").get<std::string>());
    if (!v.contains("raw_hex")) continue;  // the long one: covered by its digests above
    for (const char* form : {"raw", "json_framed", "protobuf_framed"}) {
      const std::string frame = Bytes(v, form);
      raw::Header h{};
      ASSERT_EQ(raw::DecodeHeader(reinterpret_cast<const uint8_t*>(frame.data()), &h), raw::HeaderStatus::kOk);
      std::vector<uint8_t> out;
      std::vector<double> scratch;
      const RawAnswer answer = AnswerRawRequest(
          h, {reinterpret_cast<const uint8_t*>(frame.data()) + raw::kHeaderSize, h.payload_len}, out, scratch);
      EXPECT_EQ(answer.error, "") << form;
      ExpectBytes(v, std::string("reply_") + form, {reinterpret_cast<const char*>(out.data()), out.size()});
    }
  }
}

TEST(CodecVectors, EveryReplyFormDecodesToTheReferenceValues) {
  for (const auto& v : CodecVectors()) {
    SCOPED_TRACE(v.at("name").get<std::string>());
    if (!v.contains("raw_hex")) continue;
    const uint64_t id = v["request"]["id"];
    const Op op = v["request"].contains("score") ? Op::kScore : Op::kAdd;
    const Op item_op = v["request"].contains("batch") ? Op::kAdd : op;  // the batch vector's JSON items carry their own
    {
      Reply r;
      MessageCodec(Codec::kRaw).Decode(Bytes(v, "reply_raw"), op, r);
      ExpectReply(v, r, id);
    }
    {
      Reply r;
      MessageCodec(Codec::kProtobuf).Decode(Bytes(v, "reply_protobuf"), op, r);
      ExpectReply(v, r, id);
    }
    if (!v.contains("reply_items")) {  // JSON replies name no op: a batch of mixed ops is decoded by the rows' one op
      Reply r;
      MessageCodec(Codec::kJson).Decode(v["reply_json"].get<std::string>(), item_op, r);
      ExpectReply(v, r, id);
    }
    for (const char* form : {"reply_json_framed", "reply_protobuf_framed"}) {
      if (v.contains("reply_items") && std::string(form) == "reply_json_framed") continue;
      const std::string frame = Bytes(v, form);
      raw::Header h{};
      ASSERT_EQ(raw::DecodeHeader(reinterpret_cast<const uint8_t*>(frame.data()), &h), raw::HeaderStatus::kOk);
      Reply r;
      MessageCodec(Codec::kRaw).DecodeFramed(
          h, {reinterpret_cast<const uint8_t*>(frame.data()) + raw::kHeaderSize, h.payload_len}, op, r);
      ExpectReply(v, r, id);
    }
  }
}

// The pre-run size check counts a protobuf batch without building it: its
// count must be the real serialized size.
TEST(CodecVectors, TheProtobufSizeCheckCountsExactly) {
  const std::vector<double> features = RampFeatures(300);
  std::vector<Request> items(8000);
  for (std::size_t i = 0; i < items.size(); ++i) {
    items[i].op = Op::kScore;
    items[i].features = features;
    items[i].model = "fraud-v3";
  }
  Request batch;
  batch.id = 123456789;
  batch.items = items;
  ::interop::v1::Request message;
  protobuf_codec::ToProto(batch, &message);
  const std::size_t real = message.ByteSizeLong();
  ASSERT_GT(real, raw::kMaxBatchPayload);  // 8,000 x 2.4 KB
  EXPECT_EQ(ProtobufSize(batch, SIZE_MAX), real);
  const std::string why = MessageTooLarge(Codec::kProtobuf, batch, /*framed=*/true);
  EXPECT_NE(why.find("its protobuf message would be"), std::string::npos) << why;
  batch.items = std::span<const Request>(items).first(2000);  // 4.8 MB: fits
  EXPECT_EQ(MessageTooLarge(Codec::kProtobuf, batch, true), "");
  protobuf_codec::ToProto(batch, &message);
  EXPECT_EQ(ProtobufSize(batch, SIZE_MAX), message.ByteSizeLong());
}

}  // namespace
}  // namespace interop
