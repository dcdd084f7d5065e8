#include "transports/shm/shm_segment.h"

#include <algorithm>

#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/fd_io.h"
#include "common/temp_dir.h"
#include "transports/transport.h"

namespace interop::shm {
namespace {

inline void CpuRelax() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#endif
}

// A shared (not FUTEX_PRIVATE) futex: the two processes map the page at
// different addresses, and the kernel keys the wait on the page itself.
long Futex(uint32_t* word, int op, uint32_t value, const timespec* timeout) {
  return ::syscall(SYS_futex, word, op, value, timeout, nullptr, 0);
}

// The words live in the mapping; std::atomic_ref gives them atomic access
// without pretending an std::atomic object was ever constructed there.
using Word = std::atomic_ref<uint32_t>;
static_assert(Word::is_always_lock_free);

void* MapFd(int fd, std::size_t size) {
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  return p == MAP_FAILED ? nullptr : p;
}

bool ValidSlots(uint32_t slots) { return slots >= 1 && slots <= kMaxSlots && (slots & (slots - 1)) == 0; }
bool ValidCapacity(uint32_t c) { return c >= kMinCapacity && c <= kMaxCapacity && c % 8 == 0; }

}  // namespace

uint32_t SlotsFor(int k) {
  uint32_t slots = 1;
  while (static_cast<int>(slots) < k && slots < kMaxSlots) slots *= 2;
  return slots;
}

Segment Segment::Create(const std::string& name, WaitMode mode, uint32_t spin_budget, uint32_t slots,
                        uint32_t first, Capacities capacities) {
  if (!ValidSlots(slots)) throw TransportError("shm: " + std::to_string(slots) + " slots is not a power of two up to " +
                                               std::to_string(kMaxSlots));
  if (!ValidCapacity(capacities.request) || !ValidCapacity(capacities.reply)) {
    throw TransportError("shm: slot capacities " + std::to_string(capacities.request) + "/" +
                         std::to_string(capacities.reply) + " are not multiples of 8 from " +
                         std::to_string(kMinCapacity) + " to " + std::to_string(kMaxCapacity));
  }
  const std::size_t size = SegmentSize(slots, capacities);
  const int fd = ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) throw TransportError(ErrnoMessage("shm_open " + name));
  // tmpfs allocates pages as they are touched: S entries of 1 MiB each are
  // address space, and only the lines the frames use become memory.
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    const std::string msg = ErrnoMessage("ftruncate " + name);
    ::close(fd);
    ::shm_unlink(name.c_str());
    throw TransportError(msg);
  }
  void* base = MapFd(fd, size);
  ::close(fd);
  if (!base) {
    ::shm_unlink(name.c_str());
    throw TransportError(ErrnoMessage("mmap " + name));
  }
  auto* h = static_cast<uint32_t*>(base);
  h[0] = kMagic;
  h[1] = kVersion;
  h[2] = static_cast<uint32_t>(mode);
  h[3] = capacities.request;
  h[4] = capacities.reply;
  h[5] = spin_budget;
  h[6] = slots;
  h[7] = first;
  Segment s(base, size, name, /*owner=*/true);
  // Entry of call n holds n-S until call n is published: as if the S calls
  // before the first had passed, so no starting value can look published.
  for (uint32_t k = 1; k <= slots; ++k) {
    const uint32_t n = first + k;
    *s.requests().At(n).seq = n - slots;
    *s.replies().At(n).seq = n - slots;
  }
  return s;
}

void Segment::Reserve(std::size_t request_bytes, std::size_t reply_bytes) const {
  const int fd = ::shm_open(name_.c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) throw TransportError(ErrnoMessage("shm_open " + name_));
  const Ring rings[] = {requests(), replies()};
  const std::size_t bytes[] = {request_bytes, reply_bytes};
  for (int r = 0; r < 2; ++r) {
    const std::size_t len = kEntryHeader + std::min<std::size_t>(bytes[r], rings[r].capacity);
    for (uint32_t e = 0; e < slots(); ++e) {
      const auto offset = static_cast<off_t>(rings[r].base - base_ + e * rings[r].stride);
      if (const int err = ::posix_fallocate(fd, offset, static_cast<off_t>(len)); err != 0) {
        ::close(fd);
        errno = err;
        throw TransportError(ErrnoMessage("reserving " + std::to_string(len) + " bytes of each of the " +
                                          std::to_string(slots()) + " entries of " + name_ + " in /dev/shm"));
      }
    }
  }
  ::close(fd);
}

Segment Segment::Open(const std::string& name) {
  const int fd = ::shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) throw TransportError(ErrnoMessage("shm_open " + name));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<std::size_t>(st.st_size) < kRequestsOffset) {
    ::close(fd);
    throw TransportError("segment " + name + " is smaller than the layout needs");
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  void* base = MapFd(fd, size);
  ::close(fd);
  if (!base) throw TransportError(ErrnoMessage("mmap " + name));
  Segment s(base, size, name, /*owner=*/false);
  if (s.Word(0) != kMagic || s.Word(4) != kVersion || !ValidCapacity(s.Word(12)) || !ValidCapacity(s.Word(16)) ||
      s.Word(8) > 1 || !ValidSlots(s.Word(24))) {
    throw TransportError("segment " + name + " has an unexpected header");
  }
  if (size < SegmentSize(s.slots(), s.capacities())) {
    throw TransportError("segment " + name + " is smaller than its " + std::to_string(s.slots()) + " slots need");
  }
  return s;
}

Segment::Segment(Segment&& other) noexcept
    : base_(other.base_), size_(other.size_), name_(std::move(other.name_)), owner_(other.owner_) {
  other.base_ = nullptr;
  other.owner_ = false;
}

Segment::~Segment() {
  if (base_) ::munmap(base_, size_);
  if (owner_) ::shm_unlink(name_.c_str());
}

uint32_t WaitForChange(const Segment& s, const Channel& c, uint32_t last, const std::atomic<bool>& give_up) {
  const bool futex = s.mode() == WaitMode::kFutex;
  const uint32_t budget = futex ? s.spin_budget() : UINT32_MAX;
  Word seq(*c.seq);
  Word sleeping(*c.sleeping);
  for (;;) {
    // Spin phase. Checking give_up only every 4096 rounds keeps it off the hot path.
    for (uint32_t i = 0; i < budget; ++i) {
      const uint32_t v = seq.load(std::memory_order_acquire);
      if (v != last) return v;
      CpuRelax();
      if ((i & 4095) == 4095 && give_up.load(std::memory_order_relaxed)) return last;
    }
    if (give_up.load(std::memory_order_relaxed)) return last;
    if (!futex) continue;
    // Sleep phase. The flag store and the re-check must not be reordered
    // (StoreLoad), hence seq_cst; the publisher pairs it with its own seq_cst
    // store before reading the flag. The futex call itself re-checks the value
    // atomically in the kernel, so a publish in between cannot be missed.
    sleeping.store(1, std::memory_order_seq_cst);
    uint32_t v = seq.load(std::memory_order_seq_cst);
    if (v == last) {
      const timespec tenth{0, 100'000'000};  // wake now and then to notice give_up
      Futex(c.seq, FUTEX_WAIT, last, &tenth);
      v = seq.load(std::memory_order_acquire);
    }
    sleeping.store(0, std::memory_order_relaxed);
    if (v != last) return v;
  }
}

void Publish(const Segment& s, const Channel& c, uint32_t value) {
  Word seq(*c.seq);
  Word sleeping(*c.sleeping);
  if (s.mode() == WaitMode::kSpin) {
    seq.store(value, std::memory_order_release);
    return;
  }
  seq.store(value, std::memory_order_seq_cst);
  if (sleeping.load(std::memory_order_seq_cst) != 0) Futex(c.seq, FUTEX_WAKE, 1, nullptr);
}

int RemoveStaleSegments() {
  int removed = 0;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm", ec)) {
    const std::string name = e.path().filename().string();
    constexpr std::string_view prefix = "interop-spectrum-";
    if (name.rfind(prefix, 0) != 0) continue;
    const long pid = std::atol(name.c_str() + prefix.size());
    if (pid <= 0 || ProcessExists(pid)) continue;
    if (::shm_unlink(("/" + name).c_str()) == 0) ++removed;
  }
  return removed;
}

}  // namespace interop::shm
