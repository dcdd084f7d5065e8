#include <gtest/gtest.h>
#include <unistd.h>

#include "common/frame_reader.h"
#include "common/raw_frame.h"

namespace interop::raw {
namespace {

TEST(RawFrame, AddRequestRoundTrip) {
  std::vector<uint8_t> f;
  EXPECT_EQ(EncodeAddRequest(f, 42, -5, 7), kHeaderSize + 16);
  Header h;
  ASSERT_EQ(DecodeHeader(f.data(), &h), HeaderStatus::kOk);
  EXPECT_EQ(h.kind, Kind::kAddRequest);
  EXPECT_EQ(h.id, 42u);
  int64_t x, y;
  EXPECT_EQ(ParseAddRequest({f.data() + kHeaderSize, h.payload_len}, &x, &y), "");
  EXPECT_EQ(x, -5);
  EXPECT_EQ(y, 7);
}

TEST(RawFrame, HeaderIsLittleEndianAsSpecified) {
  std::vector<uint8_t> f;
  EncodeAddReply(f, 0x0102030405060708ULL, 1);
  const std::vector<uint8_t> want = {'I', 'S', 'P', 'F', 1, 0x81, 0, 0, 8, 7, 6, 5, 4, 3, 2, 1, 8, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + kHeaderSize), want);
}

TEST(RawFrame, ScoreRequestRoundTripWithUtf8Model) {
  std::vector<uint8_t> f;
  const std::vector<double> features = {1.5, -2.25, 0};
  EncodeScoreRequest(f, 9, features, "modèle");
  Header h;
  ASSERT_EQ(DecodeHeader(f.data(), &h), HeaderStatus::kOk);
  ScoreRequestView v;
  EXPECT_EQ(ParseScoreRequest({f.data() + kHeaderSize, h.payload_len}, &v), "");
  EXPECT_EQ(v.n, 3u);
  EXPECT_EQ(v.model, "modèle");
  EXPECT_EQ(Load<double>(v.features_le.data() + 8), -2.25);
}

TEST(RawFrame, RejectsBadMagicAndOversizeLength) {
  std::vector<uint8_t> f;
  EncodeAddRequest(f, 1, 1, 1);
  Header h;
  f[0] ^= 0xFF;
  EXPECT_EQ(DecodeHeader(f.data(), &h), HeaderStatus::kBadMagicOrVersion);
  f[0] ^= 0xFF;
  Store<uint32_t>(f.data() + 16, kMaxPayload + 1);
  EXPECT_EQ(DecodeHeader(f.data(), &h), HeaderStatus::kTooLong);
}

TEST(RawFrame, ScoreRequestBoundsAreChecked) {
  std::vector<uint8_t> payload(8, 0);
  ScoreRequestView v;
  Store<uint32_t>(payload.data(), 3);  // claims 3 features, carries none
  EXPECT_NE(ParseScoreRequest(payload, &v), "");
  Store<uint32_t>(payload.data(), kMaxFeatures + 1);
  EXPECT_NE(ParseScoreRequest(payload, &v), "");
  Store<uint32_t>(payload.data(), 0);
  Store<uint32_t>(payload.data() + 4, 2);
  payload.push_back(0xC3);  // a truncated two-byte UTF-8 sequence...
  payload.push_back('(');   // ...followed by an ASCII byte
  EXPECT_EQ(ParseScoreRequest(payload, &v), "score request model name is not valid UTF-8");
}

TEST(RawFrame, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("モデル-αβγ-😀"));
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // past U+10FFFF
}

TEST(FrameReader, ReadsFramesSplitAcrossWrites) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  std::vector<uint8_t> a, b;
  EncodeAddRequest(a, 1, 2, 3);
  EncodeAddRequest(b, 2, 4, 5);
  a.insert(a.end(), b.begin(), b.end());
  ASSERT_EQ(::write(p[1], a.data(), 10), 10);
  ASSERT_EQ(::write(p[1], a.data() + 10, a.size() - 10), static_cast<ssize_t>(a.size() - 10));
  ::close(p[1]);
  FrameReader r(p[0]);
  ASSERT_EQ(r.Next(), FrameReader::Status::kOk);
  EXPECT_EQ(r.header().id, 1u);
  ASSERT_EQ(r.Next(), FrameReader::Status::kOk);
  EXPECT_EQ(r.header().id, 2u);
  EXPECT_EQ(r.Next(), FrameReader::Status::kEof);
  ::close(p[0]);
}

TEST(FrameReader, EofInsideAFrameIsReported) {
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  std::vector<uint8_t> a;
  EncodeAddRequest(a, 1, 2, 3);
  ASSERT_EQ(::write(p[1], a.data(), 30), 30);
  ::close(p[1]);
  FrameReader r(p[0]);
  EXPECT_EQ(r.Next(), FrameReader::Status::kEofMidFrame);
  ::close(p[0]);
}

}  // namespace
}  // namespace interop::raw
