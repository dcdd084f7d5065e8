// The C++ peer's --fault modes (for the harness's own tests: a peer that
// misbehaves on purpose, so the harness's handling of it runs its production
// code). Parsed, counted and applied here only, so every server misbehaves
// the same way; each server calls BeforeReply() once per request and spoils
// the reply it is about to send in its own encoding. peers/README.md has the
// table of modes and transports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace interop {

struct PeerFault {
  enum class Mode { kNone, kNoReady, kWrongValue, kWrongId, kCrashAfter, kHangAfter, kDelay, kPause };
  Mode mode = Mode::kNone;
  uint64_t after = 0;     // crash-after=N, hang-after=N
  uint64_t delay_ns = 0;  // delay=NS, pause=NS

  bool active() const { return mode != Mode::kNone; }
  // wrong-value and wrong-id change what a reply says: an echo has nothing
  // of its own to get wrong (it is the request's bytes), so --echo refuses them.
  bool SpoilsReplies() const { return mode == Mode::kWrongValue || mode == Mode::kWrongId; }
  // delay=NS is a planted slowdown of the peer's work (to test that compare
  // catches one): an echo does no work, so an echoing peer drops it, and a
  // floor stays the floor.
  bool SlowsWork() const { return mode == Mode::kDelay || mode == Mode::kPause; }
};

// Parses --fault=TEXT ("" is no fault). Returns an error message naming the
// valid modes, or "" when *out was set.
std::string ParsePeerFault(const std::string& text, PeerFault* out);

// What to do to the reply about to go out.
enum class Spoil { kNone, kValue, kId };

// Call once per request, just before its reply is sent (any thread, any
// connection: requests are counted per process). crash-after=N aborts on
// request N+1 (saying so on stderr); hang-after=N never returns from request
// N+1 on (the connection stays open); wrong-value / wrong-id answer kValue /
// kId for every 5th request; delay=NS busy-waits NS ns before every reply
// (a spin, not a sleep: a sleep would add the scheduler's wake-up, not NS);
// pause=NS sleeps NS ns instead, so that a server with a thread per call
// lets its other calls in meanwhile (the tests of calls in flight).
// Free when no fault is set.
Spoil BeforeReplySlow(const PeerFault& fault);
inline Spoil BeforeReply(const PeerFault& fault) {
  return fault.active() ? BeforeReplySlow(fault) : Spoil::kNone;
}

// The same spoiling in each encoding: the id goes up by one; the result (add)
// or the score's lowest mantissa bit (score) flips. Error replies are left as
// they are (they carry no value).
void SpoilRawFrame(Spoil spoil, uint8_t* frame, std::size_t size);  // schemas/raw_frame.md
void SpoilJsonReply(Spoil spoil, std::string* body);                // {"id":..,"result"|"score":..}
inline int64_t SpoilInt(int64_t v) { return v ^ 1; }
double SpoilDouble(double v);

}  // namespace interop
