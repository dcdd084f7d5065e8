#include "transports/fault/peer_fault.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/raw_frame.h"

namespace interop {
namespace {

std::atomic<uint64_t> g_requests{0};  // requests this process has answered, all connections

[[noreturn]] void HangForever() {
  for (;;) ::pause();
}

}  // namespace

std::string ParsePeerFault(const std::string& text, PeerFault* out) {
  using Mode = PeerFault::Mode;
  *out = {};
  if (text.empty()) return {};
  if (text == "no-ready") out->mode = Mode::kNoReady;
  else if (text == "wrong-value") out->mode = Mode::kWrongValue;
  else if (text == "wrong-id") out->mode = Mode::kWrongId;
  for (const auto& [prefix, mode] :
       {std::pair{"crash-after=", Mode::kCrashAfter}, {"hang-after=", Mode::kHangAfter}, {"delay=", Mode::kDelay},
        {"pause=", Mode::kPause}}) {
    const std::size_t len = std::strlen(prefix);
    if (text.compare(0, len, prefix) != 0) continue;
    const std::string n = text.substr(len);
    if (n.empty() || n.size() > 18 || n.find_first_not_of("0123456789") != std::string::npos) break;
    const uint64_t value = std::stoull(n);
    // A delay is per request: zero plants nothing, and over a second per call is a typo.
    const bool per_request = mode == Mode::kDelay || mode == Mode::kPause;
    if (per_request && (value == 0 || value > 1'000'000'000)) break;
    out->mode = mode;
    (per_request ? out->delay_ns : out->after) = value;
  }
  if (out->active()) return {};
  return "unknown --fault '" + text +
         "'; valid: no-ready, wrong-value, wrong-id, crash-after=N, hang-after=N, delay=NS, pause=NS (1 to 1e9)";
}

Spoil BeforeReplySlow(const PeerFault& fault) {
  using Mode = PeerFault::Mode;
  const uint64_t n = g_requests.fetch_add(1) + 1;
  if (fault.mode == Mode::kCrashAfter && n > fault.after) {
    std::fprintf(stderr, "cpp peer: --fault=crash-after=%llu: crashing on request %llu\n",
                 static_cast<unsigned long long>(fault.after), static_cast<unsigned long long>(n));
    std::abort();
  }
  if (fault.mode == Mode::kHangAfter && n > fault.after) HangForever();
  if (fault.mode == Mode::kDelay) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(fault.delay_ns);
    while (std::chrono::steady_clock::now() < until) {
    }
    return Spoil::kNone;
  }
  if (fault.mode == Mode::kPause) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(fault.delay_ns));
    return Spoil::kNone;
  }
  if (n % 5 != 0) return Spoil::kNone;
  if (fault.mode == Mode::kWrongValue) return Spoil::kValue;
  if (fault.mode == Mode::kWrongId) return Spoil::kId;
  return Spoil::kNone;
}

double SpoilDouble(double v) {
  uint64_t bits;
  std::memcpy(&bits, &v, sizeof bits);
  bits ^= 1;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

void SpoilRawFrame(Spoil spoil, uint8_t* frame, std::size_t size) {
  if (spoil == Spoil::kNone || size < raw::kHeaderSize + 8) return;
  raw::Header h{};
  if (raw::DecodeHeader(frame, &h) != raw::HeaderStatus::kOk) return;
  if (h.kind != raw::Kind::kAddReply && h.kind != raw::Kind::kScoreReply) return;
  if (spoil == Spoil::kId) raw::Store<uint64_t>(frame + 8, h.id + 1);
  if (spoil == Spoil::kValue) frame[raw::kHeaderSize] ^= 1;  // lowest bit of result (LE int64) or score (LE double)
}

void SpoilJsonReply(Spoil spoil, std::string* body) {
  if (spoil == Spoil::kNone) return;
  nlohmann::json j = nlohmann::json::parse(*body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.contains("error")) return;
  if (spoil == Spoil::kId && j.contains("id")) j["id"] = j["id"].get<uint64_t>() + 1;
  if (spoil == Spoil::kValue && j.contains("result")) j["result"] = SpoilInt(j["result"].get<int64_t>());
  if (spoil == Spoil::kValue && j.contains("score")) j["score"] = SpoilDouble(j["score"].get<double>());
  *body = j.dump();
}

}  // namespace interop
