// Batch frames (schemas/raw_frame.md, Batches) against schemas/test_vectors.json's
// raw_batch, which Python and Ruby check too: the same bytes in every language.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "byte_digest.h"
#include "common/paths.h"
#include "common/raw_frame.h"
#include "common/workload.h"
#include "transports/raw_stream/raw_answer.h"
#include "transports/raw_stream/raw_messages.h"

namespace interop::raw {
namespace {

nlohmann::json BatchVectors() {
  std::ifstream in(SourceDir() + "/schemas/test_vectors.json");
  return nlohmann::json::parse(in).at("raw_batch");
}

using interop::test_bytes::BytesOfHex;
using interop::test_bytes::Fnv1a64;
using interop::test_bytes::HexBytes;

// A vector's items as written: spelled out, or generated.
nlohmann::json ItemsOf(const nlohmann::json& v) {
  if (v.contains("items")) return v.at("items");
  nlohmann::json items = nlohmann::json::array();
  const int64_t wrong = v.at("generated").at("wrong");
  for (int64_t i = 0; i < v.at("generated").at("count").get<int64_t>(); ++i) {
    if (i == wrong) items.push_back({{"kind", 1}, {"payload_hex", "0000000000000000"}});
    else items.push_back({{"add", {i * 1000003, 7 - i}}});
  }
  return items;
}

std::vector<uint8_t> RequestFrame(const nlohmann::json& v) {
  std::vector<uint8_t> frame;
  BatchWriter w(frame, Kind::kBatchRequest, v.at("id").get<uint64_t>());
  for (const auto& item : ItemsOf(v)) {
    if (item.contains("add")) {
      w.AddAddRequest(item["add"][0].get<int64_t>(), item["add"][1].get<int64_t>());
    } else if (item.contains("score")) {
      const auto& f = item["score"]["features"];
      const auto features = f.is_object() ? RampFeatures(f["ramp"].get<std::size_t>()) : f.get<std::vector<double>>();
      w.AddScoreRequest(features, item["score"]["model"].get<std::string>());
    } else {
      w.AddItem(static_cast<Kind>(item["kind"].get<int>()), BytesOfHex(item["payload_hex"]));
    }
  }
  w.Finish();
  return frame;
}

// What the C++ peer answers to a batch request (transports/raw_stream/raw_answer.h),
// and how many of its items are errors.
std::vector<uint8_t> Answer(const Header& h, std::span<const uint8_t> payload, std::size_t* errors) {
  std::vector<uint8_t> frame;
  std::vector<double> scratch;
  const RawAnswer answer = AnswerRawRequest(h, payload, frame, scratch);
  EXPECT_EQ(answer.error, "");
  std::vector<BatchItem> items;
  EXPECT_EQ(ParseBatch(std::span(frame).subspan(kHeaderSize), &items), "");
  for (const BatchItem& item : items) *errors += item.kind == Kind::kError;
  return frame;
}

void ExpectBytes(const nlohmann::json& v, const std::string& which, const std::vector<uint8_t>& bytes) {
  if (v.contains(which + "_hex")) {
    EXPECT_EQ(HexBytes(bytes), v.at(which + "_hex").get<std::string>()) << v.at("name");
  } else {
    EXPECT_EQ(bytes.size(), v.at(which + "_bytes").get<std::size_t>()) << v.at("name");
    EXPECT_EQ(Fnv1a64(bytes), v.at(which + "_fnv1a64").get<std::string>()) << v.at("name");
  }
}

TEST(RawBatch, RequestsAndRepliesMatchTheSharedVectorsBitForBit) {
  const auto vectors = BatchVectors();
  ASSERT_EQ(vectors.size(), 4u);
  for (const auto& v : vectors) {
    const std::vector<uint8_t> request = RequestFrame(v);
    ExpectBytes(v, "request", request);
    Header h{};
    ASSERT_EQ(DecodeHeader(request.data(), &h), HeaderStatus::kOk);
    EXPECT_EQ(h.kind, Kind::kBatchRequest);
    EXPECT_EQ(h.payload_len, request.size() - kHeaderSize);
    std::size_t errors = 0;
    ExpectBytes(v, "reply", Answer(h, std::span(request).subspan(kHeaderSize), &errors));
    // A wrong item costs itself, not its batch.
    std::size_t wrong = v.contains("generated") ? 1 : 0;
    if (v.contains("reply_items")) {
      for (const auto& item : v.at("reply_items")) wrong += item.contains("error") ? 1 : 0;
    }
    EXPECT_EQ(errors, wrong) << v.at("name");
  }
}

// The harness's decoder takes each vector's reply frame apart into one
// reply per item, errors in their places.
TEST(RawBatch, TheHarnessDecodesEveryReplyItemInItsPlace) {
  for (const auto& v : BatchVectors()) {
    if (!v.contains("reply_items")) continue;
    const std::vector<uint8_t> frame = BytesOfHex(v.at("reply_hex"));
    Header h{};
    ASSERT_EQ(DecodeHeader(frame.data(), &h), HeaderStatus::kOk);
    Reply reply;
    DecodeRawReply(h, std::span(frame).subspan(kHeaderSize), reply);
    EXPECT_EQ(reply.error, "") << v.at("name");
    EXPECT_EQ(reply.kind, ReplyKind::kBatch);
    EXPECT_EQ(reply.id, v.at("id").get<uint64_t>());
    const auto& want = v.at("reply_items");
    ASSERT_EQ(reply.items.size(), want.size()) << v.at("name");
    for (std::size_t i = 0; i < want.size(); ++i) {
      const Reply& got = reply.items[i];
      if (want[i].contains("add")) {
        EXPECT_EQ(got.kind, ReplyKind::kAdd);
        EXPECT_EQ(got.result, want[i]["add"].get<int64_t>());
      } else if (want[i].contains("score_hex")) {
        EXPECT_EQ(got.kind, ReplyKind::kScore);
        EXPECT_EQ(test_bytes::HexOfDouble(got.score), want[i]["score_hex"].get<std::string>());
        EXPECT_EQ(got.label, want[i]["label"].get<std::string>());
      } else {
        EXPECT_EQ(got.error, "peer error: " + want[i]["error"].get<std::string>()) << v.at("name") << " item " << i;
      }
    }
  }
}

// Readers bound payload_len by the header's kind (schemas/raw_frame.md):
// 16 MiB for batch frames, 1 MiB + 4 KiB for every other kind.
TEST(RawBatch, ReadersBoundPayloadLenByKind) {
  uint8_t h[kHeaderSize];
  Header out{};
  for (Kind batch : {Kind::kBatchRequest, Kind::kBatchReply}) {
    EncodeHeader(h, batch, 1, kMaxBatchPayload);
    EXPECT_EQ(DecodeHeader(h, &out), HeaderStatus::kOk);
    EncodeHeader(h, batch, 1, kMaxBatchPayload + 1);
    EXPECT_EQ(DecodeHeader(h, &out), HeaderStatus::kTooLong);
  }
  for (Kind single : {Kind::kAddRequest, Kind::kScoreRequest, Kind::kError, Kind{0x33}}) {
    EncodeHeader(h, single, 1, kMaxPayload);
    EXPECT_EQ(DecodeHeader(h, &out), HeaderStatus::kOk);
    EncodeHeader(h, single, 1, kMaxPayload + 1);
    EXPECT_EQ(DecodeHeader(h, &out), HeaderStatus::kTooLong);
  }
}

TEST(RawBatch, ItemsStayEightByteAligned) {
  std::vector<uint8_t> frame;
  BatchWriter w(frame, Kind::kBatchRequest, 1);
  const std::vector<double> features = {1.5, -2.25};
  w.AddScoreRequest(features, "abc");  // 8 + 16 + 3 bytes: padded to 32
  w.AddAddRequest(1, 2);
  EXPECT_EQ(w.Finish(), kHeaderSize + 8 + (8 + 32) + (8 + 16));
  std::vector<BatchItem> items;
  ASSERT_EQ(ParseBatch(std::span(frame).subspan(kHeaderSize), &items), "");
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].payload.size(), 27u);
  EXPECT_EQ((items[1].payload.data() - frame.data()) % 8, 0);
}

TEST(RawBatch, ABadShapeRefusesTheWholeBatch) {
  std::vector<uint8_t> frame;
  BatchWriter w(frame, Kind::kBatchRequest, 1);
  w.AddAddRequest(1, 2);
  w.Finish();
  const std::vector<uint8_t> good(frame.begin() + kHeaderSize, frame.end());
  auto with_count = [&](uint32_t count) {
    std::vector<uint8_t> p = good;
    Store(p.data(), count);
    return p;
  };
  std::vector<uint8_t> longer = good;
  longer.resize(good.size() + 8, 0);
  const std::vector<std::pair<std::string, std::vector<uint8_t>>> cases = {
      {"shorter than 8", {good.begin(), good.begin() + 4}},
      {"count 0", with_count(0)},
      {"count over the bound", with_count(kMaxBatchItems + 1)},
      {"count says two", with_count(2)},
      {"item overruns", {good.begin(), good.end() - 1}},
      {"bytes left over", longer},
  };
  std::vector<BatchItem> items;
  for (const auto& [what, payload] : cases) {
    EXPECT_NE(ParseBatch(payload, &items), "") << what;
    EXPECT_TRUE(items.empty()) << what;
  }
  EXPECT_EQ(ParseBatch(good, &items), "");
  EXPECT_EQ(items.size(), 1u);
}

}  // namespace
}  // namespace interop::raw
