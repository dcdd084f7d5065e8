// The shared-memory segment of the shm tier (schemas/shm_layout.md): layout,
// create/open, and the wait/publish steps whose ordering makes it correct.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace interop::shm {

inline constexpr uint32_t kMagic = 0x4D485349;  // "ISHM"
inline constexpr uint32_t kVersion = 2;
inline constexpr std::size_t kReqSeqOffset = 64;
inline constexpr std::size_t kReqSlotOffset = 72;  // on the same cache line as req_seq
inline constexpr uint32_t kRequestCapacity = 1052696;  // 24 + MAX_PAYLOAD
inline constexpr std::size_t kRepSeqOffset = 1052800;  // 64 + round_up(8 + kRequestCapacity, 64)
inline constexpr std::size_t kRepSlotOffset = kRepSeqOffset + 8;
inline constexpr uint32_t kReplyCapacity = 4096;
inline constexpr std::size_t kSegmentSize = kRepSlotOffset + kReplyCapacity;
static_assert(kRepSeqOffset % 64 == 0 && kRepSeqOffset >= kReqSlotOffset + kRequestCapacity);

enum class WaitMode : uint32_t { kSpin = 0, kFutex = 1 };

// One side's view of the sequence protocol: the word the writer publishes,
// and the flag its reader raises while it sleeps on that word.
struct Channel {
  uint32_t* seq;
  uint32_t* sleeping;
  uint8_t* slot;
  uint32_t capacity;
};

// A mapping of the segment. The creator owns the name and unlinks it.
class Segment {
 public:
  // Creates /dev/shm/<name> (0600, O_EXCL) and writes the header. Throws TransportError.
  static Segment Create(const std::string& name, WaitMode mode, uint32_t spin_budget);
  // Maps an existing segment and checks its header. Throws TransportError.
  static Segment Open(const std::string& name);
  Segment(Segment&& other) noexcept;
  Segment& operator=(Segment&&) = delete;
  ~Segment();

  Channel requests() const { return At(kReqSeqOffset, kReqSlotOffset, kRequestCapacity); }
  Channel replies() const { return At(kRepSeqOffset, kRepSlotOffset, kReplyCapacity); }
  WaitMode mode() const { return static_cast<WaitMode>(Word(8)); }
  uint32_t spin_budget() const { return Word(20); }

 private:
  Segment(void* base, std::string name, bool owner) : base_(static_cast<uint8_t*>(base)), name_(std::move(name)), owner_(owner) {}
  uint32_t Word(std::size_t offset) const { return *reinterpret_cast<const uint32_t*>(base_ + offset); }
  Channel At(std::size_t seq, std::size_t slot, uint32_t capacity) const {
    return {reinterpret_cast<uint32_t*>(base_ + seq), reinterpret_cast<uint32_t*>(base_ + seq + 4), base_ + slot,
            capacity};
  }
  uint8_t* base_;
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
