// The shared-memory segment of the shm tier (schemas/shm_layout.md): layout,
// create/open, and the wait/publish steps whose ordering makes it correct.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace interop::shm {

inline constexpr uint32_t kMagic = 0x4D485349;  // "ISHM"
inline constexpr uint32_t kVersion = 4;
// The slots' frame capacities of a row of single calls (version 3's); a row
// of batches gets larger ones, each a multiple of 8 from kMinCapacity to
// kMaxCapacity (schemas/shm_layout.md).
inline constexpr uint32_t kRequestCapacity = 1052696;  // 24 + MAX_PAYLOAD
inline constexpr uint32_t kReplyCapacity = 4096;
inline constexpr uint32_t kMinCapacity = 4096;
inline constexpr uint32_t kMaxCapacity = 16777240;  // 24 + MAX_BATCH_PAYLOAD
struct Capacities {
  uint32_t request = kRequestCapacity;
  uint32_t reply = kReplyCapacity;
};
// An entry is [seq u32][sleeping u32][frame], starting a cache line, so a
// small frame travels with the number that publishes it.
inline constexpr std::size_t kEntryHeader = 8;
inline constexpr std::size_t RoundUp64(std::size_t n) { return (n + 63) / 64 * 64; }
inline constexpr std::size_t StrideOf(uint32_t capacity) { return RoundUp64(kEntryHeader + capacity); }
inline constexpr std::size_t kRequestsOffset = 64;
// The most entries per direction: --inflight's bound. A power of two, as every
// slot count is, so an entry's index (n-1) mod S holds across the wrap of n.
inline constexpr uint32_t kMaxSlots = 1024;
inline constexpr std::size_t RepliesOffset(uint32_t slots, Capacities c = {}) {
  return kRequestsOffset + slots * StrideOf(c.request);
}
inline constexpr std::size_t SegmentSize(uint32_t slots, Capacities c = {}) {
  return RepliesOffset(slots, c) + slots * StrideOf(c.reply);
}
static_assert(RepliesOffset(1) == 1052800, "one slot of single calls keeps version 2's offsets");

// The smallest power of two >= k (1..kMaxSlots): the slots a row at k calls in flight needs.
uint32_t SlotsFor(int k);

enum class WaitMode : uint32_t { kSpin = 0, kFutex = 1 };

// One entry of a ring: the word its writer publishes, the flag its reader
// raises while it sleeps on that word, and the frame.
struct Channel {
  uint32_t* seq;
  uint32_t* sleeping;
  uint8_t* slot;
  uint32_t capacity;
};

// One direction's S entries. Call n (u32, wrapping) uses entry (n-1) mod S,
// whose seq holds n-S until call n is published and n after.
struct Ring {
  uint8_t* base;
  std::size_t stride;
  uint32_t mask;  // S - 1
  uint32_t capacity;
  uint32_t slots() const { return mask + 1; }
  Channel At(uint32_t n) const {
    uint8_t* e = base + static_cast<std::size_t>((n - 1) & mask) * stride;
    return {reinterpret_cast<uint32_t*>(e), reinterpret_cast<uint32_t*>(e + 4), e + kEntryHeader, capacity};
  }
};

// A mapping of the segment. The creator owns the name and unlinks it.
class Segment {
 public:
  // Creates /dev/shm/<name> (0600, O_EXCL) with `slots` entries each way
  // (a power of two, 1..kMaxSlots), and writes the header and every entry's
  // starting seq. `first` is the number before the first call (0; tests
  // start near the wrap). Throws TransportError.
  // `capacities` are the slots' frame capacities (each a multiple of 8 in
  // [kMinCapacity, kMaxCapacity]).
  static Segment Create(const std::string& name, WaitMode mode, uint32_t spin_budget, uint32_t slots = 1,
                        uint32_t first = 0, Capacities capacities = {});
  // Gives the segment the memory its entries' frames will touch (the first
  // request_bytes of every request entry, reply_bytes of every reply entry)
  // now: tmpfs allocates a page when it is first written, and a full
  // /dev/shm would otherwise end the writer with SIGBUS mid-call, not with
  // an error. Throws TransportError (ENOSPC) when it cannot.
  void Reserve(std::size_t request_bytes, std::size_t reply_bytes) const;
  // Maps an existing segment and checks its header. Throws TransportError.
  static Segment Open(const std::string& name);
  Segment(Segment&& other) noexcept;
  Segment& operator=(Segment&&) = delete;
  ~Segment();

  Ring requests() const { return {base_ + kRequestsOffset, StrideOf(capacities().request), slots() - 1, capacities().request}; }
  Ring replies() const {
    return {base_ + RepliesOffset(slots(), capacities()), StrideOf(capacities().reply), slots() - 1, capacities().reply};
  }
  Capacities capacities() const { return {Word(12), Word(16)}; }
  WaitMode mode() const { return static_cast<WaitMode>(Word(8)); }
  uint32_t spin_budget() const { return Word(20); }
  uint32_t slots() const { return Word(24); }
  uint32_t first() const { return Word(28); }

 private:
  Segment(void* base, std::size_t size, std::string name, bool owner)
      : base_(static_cast<uint8_t*>(base)), size_(size), name_(std::move(name)), owner_(owner) {}
  uint32_t Word(std::size_t offset) const { return *reinterpret_cast<const uint32_t*>(base_ + offset); }
  uint8_t* base_;
  std::size_t size_;
  std::string name_;
  bool owner_;
};

// Waits until the channel's seq holds a value other than `last` and returns
// it (acquire: everything the writer stored before publishing is visible).
// Spin mode busy-polls; futex mode polls for the spin budget, then sleeps.
// Returns `last` if `give_up` became true first.
uint32_t WaitForChange(const Segment& s, const Channel& c, uint32_t last, const std::atomic<bool>& give_up);

// Publishes `value` (release) and, in futex mode, wakes a sleeping reader.
void Publish(const Segment& s, const Channel& c, uint32_t value);

// Removes /dev/shm/interop-spectrum-PID-* segments whose PID is gone.
int RemoveStaleSegments();

}  // namespace interop::shm
