#include "transports/fault/peer_counts.h"

#include <cstdio>

namespace interop {

void HeldCount::Saw(std::size_t held) {
  std::size_t most = most_.load();
  while (held > most) {
    if (most_.compare_exchange_weak(most, held)) {
      std::fprintf(stderr, "cpp peer: held at most %zu requests at once\n", held);
      return;
    }
  }
}

HeldCount::Hold::Hold(HeldCount& count) : count_(count) {
  if (count_.on_) count_.Saw(count_.now_.fetch_add(1) + 1);
}

HeldCount::Hold::~Hold() {
  if (count_.on_) count_.now_.fetch_sub(1);
}

void MessageCount::Answered(std::size_t calls) {
  if (!on_) return;
  std::lock_guard lock(mu_);
  calls_ += calls;
  std::fprintf(stderr, "cpp peer: answered %zu messages holding %zu calls\n", ++messages_, calls_);
}

}  // namespace interop
