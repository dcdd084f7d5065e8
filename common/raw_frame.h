// Encoder and bounded decoder for the raw binary frame (schemas/raw_frame.md).
// Used by the harness transports and the C++ peer; nothing here does I/O.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace interop::raw {

inline constexpr uint32_t kMagic = 0x46505349;  // "ISPF" little-endian
inline constexpr uint8_t kVersion = 1;
inline constexpr std::size_t kHeaderSize = 24;
inline constexpr uint32_t kMaxPayload = 1052672;  // 1 MiB + 4 KiB
inline constexpr uint32_t kMaxFeatures = 131072;
inline constexpr uint32_t kMaxModelBytes = 1024;
inline constexpr uint32_t kMaxErrorBytes = 1024;
// Batches: B calls in one frame (schemas/raw_frame.md, Batches).
inline constexpr uint32_t kMaxBatchItems = 100000;
inline constexpr uint32_t kMaxBatchPayload = 16777216;  // 16 MiB
inline constexpr std::size_t kItemHeaderSize = 8;
// A batch item's payload, and a shared-memory slot, padded to 8 bytes so the
// next item (slot) starts aligned for its doubles.
constexpr std::size_t Padded8(std::size_t n) { return (n + 7) / 8 * 8; }

enum class Kind : uint8_t {
  kAddRequest = 1,
  kScoreRequest = 2,
  kBatchRequest = 0x10,
  // Other codecs in the frame (raw_frame.md): the payload is their message.
  kJsonRequest = 0x20,
  kProtobufRequest = 0x30,
  kAddReply = 0x81,
  kScoreReply = 0x82,
  kBatchReply = 0x90,
  kJsonReply = 0xA0,
  kProtobufReply = 0xB0,
  kError = 0xFF,
};

// MAX_JSON_BYTES (json_transports.md): a JSON message's bound in any frame.
inline constexpr uint32_t kMaxJsonPayload = 4194304;

struct Header {
  Kind kind;
  uint64_t id;
  uint32_t payload_len;
};

// Why a header was refused; kOk means the payload may be read.
enum class HeaderStatus { kOk, kBadMagicOrVersion, kTooLong };

// The host is little-endian (x86-64/aarch64 Linux); a static_assert in
// raw_frame.cc makes a big-endian build fail loudly instead of misreading.
template <typename T>
inline T Load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <typename T>
inline void Store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof v);
}

// The most payload a frame of this kind may declare: kMaxBatchPayload for
// batch and protobuf frames, kMaxJsonPayload for JSON ones, kMaxPayload for
// every other kind. Readers check it before
// they allocate or read anything.
inline constexpr uint32_t MaxPayloadOf(Kind kind) {
  switch (kind) {
    case Kind::kBatchRequest:
    case Kind::kBatchReply:
    case Kind::kProtobufRequest:
    case Kind::kProtobufReply: return kMaxBatchPayload;
    case Kind::kJsonRequest:
    case Kind::kJsonReply: return kMaxJsonPayload;
    default: return kMaxPayload;
  }
}

void EncodeHeader(uint8_t* out, Kind kind, uint64_t id, uint32_t payload_len);
// kTooLong when payload_len is above MaxPayloadOf(kind).
HeaderStatus DecodeHeader(const uint8_t* in, Header* out);

// Payload sizes of the requests (the frame adds kHeaderSize).
inline constexpr std::size_t kAddRequestPayload = 16;
inline constexpr std::size_t ScoreRequestPayload(std::size_t features, std::size_t model_bytes) {
  return 8 + 8 * features + model_bytes;
}

// Encoders append one whole frame to `out` (cleared first) and return its size.
std::size_t EncodeAddRequest(std::vector<uint8_t>& out, uint64_t id, int64_t x, int64_t y);
std::size_t EncodeScoreRequest(std::vector<uint8_t>& out, uint64_t id,
                               std::span<const double> features, std::string_view model);
std::size_t EncodeAddReply(std::vector<uint8_t>& out, uint64_t id, int64_t result);
std::size_t EncodeScoreReply(std::vector<uint8_t>& out, uint64_t id, double score,
                             std::string_view label);
std::size_t EncodeError(std::vector<uint8_t>& out, uint64_t id, std::string_view message);

// Payload views; each returns an error message, empty when the payload is valid.
struct ScoreRequestView {
  std::span<const uint8_t> features_le;  // n * 8 bytes, little-endian doubles
  std::string_view model;
  uint32_t n;
};
std::string ParseAddRequest(std::span<const uint8_t> payload, int64_t* x, int64_t* y);
std::string ParseScoreRequest(std::span<const uint8_t> payload, ScoreRequestView* out);
std::string ParseAddReply(std::span<const uint8_t> payload, int64_t* result);
std::string ParseScoreReply(std::span<const uint8_t> payload, double* score,
                            std::string_view* label);

// Builds one batch frame in `out` (cleared first), item by item, each item
// laid out as that kind's payload would be in a frame of its own.
class BatchWriter {
 public:
  BatchWriter(std::vector<uint8_t>& out, Kind batch_kind, uint64_t id);
  void AddAddRequest(int64_t x, int64_t y);
  void AddScoreRequest(std::span<const double> features, std::string_view model);
  void AddAddReply(int64_t result);
  void AddScoreReply(double score, std::string_view label);
  void AddError(std::string_view message);
  // Any kind and payload, checked by nobody: for tests of bad items.
  void AddItem(Kind kind, std::span<const uint8_t> payload);
  // Writes the count and the header's payload_len; returns the frame's size.
  std::size_t Finish();

 private:
  uint8_t* Item(Kind kind, std::size_t len);  // the item's payload, padding zeroed
  std::vector<uint8_t>& out_;
  uint32_t count_ = 0;
};

// One item of a batch payload: its kind and its payload (without padding).
struct BatchItem {
  Kind kind;
  std::span<const uint8_t> payload;
};
// Splits a batch payload into its items, after checking its shape (count in
// bounds, every item inside, nothing left over); an error message if the
// batch as a whole is refused, empty when `items` holds them all. Items are
// not checked in themselves: that is each kind's Parse*.
std::string ParseBatch(std::span<const uint8_t> payload, std::vector<BatchItem>* items);

bool IsValidUtf8(std::string_view s);

}  // namespace interop::raw
