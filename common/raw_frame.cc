#include "common/raw_frame.h"

#include <bit>

namespace interop::raw {

static_assert(std::endian::native == std::endian::little,
              "the raw frame is little-endian and this code copies it as is");

void EncodeHeader(uint8_t* out, Kind kind, uint64_t id, uint32_t payload_len) {
  Store<uint32_t>(out, kMagic);
  out[4] = kVersion;
  out[5] = static_cast<uint8_t>(kind);
  Store<uint16_t>(out + 6, 0);
  Store<uint64_t>(out + 8, id);
  Store<uint32_t>(out + 16, payload_len);
  Store<uint32_t>(out + 20, 0);
}

HeaderStatus DecodeHeader(const uint8_t* in, Header* out) {
  if (Load<uint32_t>(in) != kMagic || in[4] != kVersion) return HeaderStatus::kBadMagicOrVersion;
  out->kind = static_cast<Kind>(in[5]);
  out->id = Load<uint64_t>(in + 8);
  out->payload_len = Load<uint32_t>(in + 16);
  if (out->payload_len > MaxPayloadOf(out->kind)) return HeaderStatus::kTooLong;
  return HeaderStatus::kOk;
}

namespace {
uint8_t* Begin(std::vector<uint8_t>& out, Kind kind, uint64_t id, std::size_t payload_len) {
  out.resize(kHeaderSize + payload_len);
  EncodeHeader(out.data(), kind, id, static_cast<uint32_t>(payload_len));
  return out.data() + kHeaderSize;
}
}  // namespace

std::size_t EncodeAddRequest(std::vector<uint8_t>& out, uint64_t id, int64_t x, int64_t y) {
  uint8_t* p = Begin(out, Kind::kAddRequest, id, 16);
  Store(p, x);
  Store(p + 8, y);
  return out.size();
}

std::size_t EncodeScoreRequest(std::vector<uint8_t>& out, uint64_t id,
                               std::span<const double> features, std::string_view model) {
  const std::size_t n = features.size();
  uint8_t* p = Begin(out, Kind::kScoreRequest, id, ScoreRequestPayload(n, model.size()));
  Store<uint32_t>(p, static_cast<uint32_t>(n));
  Store<uint32_t>(p + 4, static_cast<uint32_t>(model.size()));
  if (n) std::memcpy(p + 8, features.data(), 8 * n);
  if (!model.empty()) std::memcpy(p + 8 + 8 * n, model.data(), model.size());
  return out.size();
}

std::size_t EncodeAddReply(std::vector<uint8_t>& out, uint64_t id, int64_t result) {
  Store(Begin(out, Kind::kAddReply, id, 8), result);
  return out.size();
}

std::size_t EncodeScoreReply(std::vector<uint8_t>& out, uint64_t id, double score,
                             std::string_view label) {
  uint8_t* p = Begin(out, Kind::kScoreReply, id, 16 + label.size());
  Store(p, score);
  Store<uint32_t>(p + 8, static_cast<uint32_t>(label.size()));
  Store<uint32_t>(p + 12, 0);
  std::memcpy(p + 16, label.data(), label.size());
  return out.size();
}

std::size_t EncodeError(std::vector<uint8_t>& out, uint64_t id, std::string_view message) {
  message = message.substr(0, kMaxErrorBytes);
  uint8_t* p = Begin(out, Kind::kError, id, message.size());
  std::memcpy(p, message.data(), message.size());
  return out.size();
}

std::string ParseAddRequest(std::span<const uint8_t> payload, int64_t* x, int64_t* y) {
  if (payload.size() != 16) return "add request payload must be 16 bytes";
  *x = Load<int64_t>(payload.data());
  *y = Load<int64_t>(payload.data() + 8);
  return {};
}

std::string ParseScoreRequest(std::span<const uint8_t> payload, ScoreRequestView* out) {
  if (payload.size() < 8) return "score request payload shorter than 8 bytes";
  const uint32_t n = Load<uint32_t>(payload.data());
  const uint32_t model_len = Load<uint32_t>(payload.data() + 4);
  if (n > kMaxFeatures) return "score request has more than 131072 features";
  if (model_len > kMaxModelBytes) return "score request model name longer than 1024 bytes";
  if (payload.size() != 8 + 8 * static_cast<std::size_t>(n) + model_len) {
    return "score request payload size does not match n and model_len";
  }
  out->n = n;
  out->features_le = payload.subspan(8, 8 * static_cast<std::size_t>(n));
  out->model = std::string_view(reinterpret_cast<const char*>(payload.data()) + 8 + 8 * n, model_len);
  if (!IsValidUtf8(out->model)) return "score request model name is not valid UTF-8";
  return {};
}

std::string ParseAddReply(std::span<const uint8_t> payload, int64_t* result) {
  if (payload.size() != 8) return "add reply payload must be 8 bytes";
  *result = Load<int64_t>(payload.data());
  return {};
}

std::string ParseScoreReply(std::span<const uint8_t> payload, double* score,
                            std::string_view* label) {
  if (payload.size() < 16) return "score reply payload shorter than 16 bytes";
  const uint32_t len = Load<uint32_t>(payload.data() + 8);
  if (payload.size() != 16 + static_cast<std::size_t>(len)) {
    return "score reply payload size does not match label_len";
  }
  *score = Load<double>(payload.data());
  *label = std::string_view(reinterpret_cast<const char*>(payload.data()) + 16, len);
  return {};
}

BatchWriter::BatchWriter(std::vector<uint8_t>& out, Kind batch_kind, uint64_t id) : out_(out) {
  out_.assign(kHeaderSize + 8, 0);  // header, count, reserved
  EncodeHeader(out_.data(), batch_kind, id, 0);
}

uint8_t* BatchWriter::Item(Kind kind, std::size_t len) {
  const std::size_t at = out_.size();
  out_.resize(at + kItemHeaderSize + Padded8(len), 0);  // resize zero-fills the padding
  out_[at] = static_cast<uint8_t>(kind);
  Store<uint32_t>(out_.data() + at + 4, static_cast<uint32_t>(len));
  ++count_;
  return out_.data() + at + kItemHeaderSize;
}

void BatchWriter::AddAddRequest(int64_t x, int64_t y) {
  uint8_t* p = Item(Kind::kAddRequest, kAddRequestPayload);
  Store(p, x);
  Store(p + 8, y);
}

void BatchWriter::AddScoreRequest(std::span<const double> features, std::string_view model) {
  uint8_t* p = Item(Kind::kScoreRequest, ScoreRequestPayload(features.size(), model.size()));
  Store<uint32_t>(p, static_cast<uint32_t>(features.size()));
  Store<uint32_t>(p + 4, static_cast<uint32_t>(model.size()));
  if (!features.empty()) std::memcpy(p + 8, features.data(), 8 * features.size());
  std::memcpy(p + 8 + 8 * features.size(), model.data(), model.size());
}

void BatchWriter::AddAddReply(int64_t result) { Store(Item(Kind::kAddReply, 8), result); }

void BatchWriter::AddScoreReply(double score, std::string_view label) {
  uint8_t* p = Item(Kind::kScoreReply, 16 + label.size());
  Store(p, score);
  Store<uint32_t>(p + 8, static_cast<uint32_t>(label.size()));
  std::memcpy(p + 16, label.data(), label.size());
}

void BatchWriter::AddError(std::string_view message) {
  message = message.substr(0, kMaxErrorBytes);
  std::memcpy(Item(Kind::kError, message.size()), message.data(), message.size());
}

void BatchWriter::AddItem(Kind kind, std::span<const uint8_t> payload) {
  uint8_t* p = Item(kind, payload.size());
  if (!payload.empty()) std::memcpy(p, payload.data(), payload.size());
}

std::size_t BatchWriter::Finish() {
  Store<uint32_t>(out_.data() + kHeaderSize, count_);
  Store<uint32_t>(out_.data() + 16, static_cast<uint32_t>(out_.size() - kHeaderSize));
  return out_.size();
}

std::string ParseBatch(std::span<const uint8_t> payload, std::vector<BatchItem>* items) {
  items->clear();
  if (payload.size() > kMaxBatchPayload) return "batch payload longer than 16777216 bytes";
  if (payload.size() < 8) return "batch payload shorter than 8 bytes";
  const uint32_t count = Load<uint32_t>(payload.data());
  if (count < 1 || count > kMaxBatchItems) return "batch count " + std::to_string(count) + " not in 1..100000";
  std::size_t at = 8;
  auto overrun = [items](uint32_t i) {
    items->clear();
    return "batch item " + std::to_string(i) + " overruns the payload";
  };
  for (uint32_t i = 0; i < count; ++i) {
    if (payload.size() - at < kItemHeaderSize) return overrun(i);
    const auto kind = static_cast<Kind>(payload[at]);
    const std::size_t len = Load<uint32_t>(payload.data() + at + 4);
    const std::size_t padded = Padded8(len);
    if (payload.size() - at - kItemHeaderSize < padded) return overrun(i);
    items->push_back({kind, payload.subspan(at + kItemHeaderSize, len)});
    at += kItemHeaderSize + padded;
  }
  if (at != payload.size()) {
    items->clear();
    return std::to_string(payload.size() - at) + " bytes after the last batch item";
  }
  return {};
}

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  while (p < end) {
    const unsigned char c = *p;
    std::size_t len;
    uint32_t cp;
    if (c < 0x80) { ++p; continue; }
    if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return false;
    if (static_cast<std::size_t>(end - p) < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((p[k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[k] & 0x3F);
    }
    // Reject overlong forms, surrogates and code points past U+10FFFF.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    p += len;
  }
  return true;
}

}  // namespace interop::raw
