// Bytes as the shared test vectors spell them (schemas/test_vectors.json):
// lowercase hex, and FNV-1a 64 for frames too long to spell out. The
// vectors' maker and the C++ tests use the same two.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace interop::test_bytes {

inline std::string HexBytes(const std::vector<uint8_t>& bytes) {
  std::string out;
  char buf[3];
  for (uint8_t b : bytes) {
    std::snprintf(buf, sizeof buf, "%02x", b);
    out += buf;
  }
  return out;
}

inline std::vector<uint8_t> BytesOfHex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

// A double's IEEE-754 bits, as the vectors spell a score (`score_hex`), so
// a result is compared bit for bit, never within a tolerance.
inline std::string HexOfDouble(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof bits);
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(bits));
  return buf;
}

// FNV-1a, 64 bits (offset 0xcbf29ce484222325, prime 0x100000001b3).
inline std::string Fnv1a64(const std::vector<uint8_t>& bytes) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (uint8_t b : bytes) h = (h ^ b) * 0x100000001b3ULL;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace interop::test_bytes
