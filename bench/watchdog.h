// Fails a row whose peer stops answering: if no call completes for the
// timeout, it runs on_stall once (kill the peer, which unblocks a read; raise
// a give-up flag for waits on shared memory). Ctrl-C counts as a stall too.
//
// It stays off the measured core: its thread pins itself to `cpu` (the
// placement gives it a core other than the caller's whenever there is one)
// and wakes once a second, so a stall is noticed within timeout + 1 s. A
// stop signal wakes it at once: the process guard's wake fd (an eventfd the
// signal handler writes) is in its poll, so Ctrl-C does not wait for a tick.
#pragma once

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <thread>

#include "bench/pinning.h"

namespace interop {

class Watchdog {
 public:
  // cpu: where its thread runs (-1: anywhere the process may run).
  // interrupted: checked on every wake; true ends the wait (Ctrl-C).
  // interrupt_fd: becomes readable when `interrupted` turns true (-1: none).
  Watchdog(double timeout_s, int cpu, std::function<void()> on_stall,
           std::function<bool()> interrupted = [] { return false; }, int interrupt_fd = -1)
      : timeout_(timeout_s), on_stall_(std::move(on_stall)), interrupted_(std::move(interrupted)),
        interrupt_fd_(interrupt_fd), stop_fd_(::eventfd(0, EFD_CLOEXEC)) {
    if (stop_fd_ < 0) throw std::runtime_error("eventfd for the watchdog failed");
    thread_ = std::thread([this, cpu] {
      pthread_setname_np(pthread_self(), "row-watchdog");  // so tests and ps can find it
      PinCurrentThread(cpu);
      Loop();
    });
  }
  ~Watchdog() {
    const uint64_t one = 1;
    (void)!::write(stop_fd_, &one, sizeof one);
    thread_.join();
    ::close(stop_fd_);
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  // Called after each completed call: one relaxed increment, nothing else.
  void Beat() { beats_.fetch_add(1, std::memory_order_relaxed); }
  // For work that legitimately takes longer between beats (K calls in flight
  // done one after the other by a transport that cannot overlap them).
  void SetTimeout(double seconds) { timeout_.store(seconds); }
  bool fired() const { return fired_.load(); }

 private:
  using Clock = std::chrono::steady_clock;

  void Loop() {
    uint64_t last = beats_.load();
    auto last_change = Clock::now();
    for (;;) {
      // Once fired, the interrupt fd (readable for good after a signal) is
      // left out, or every poll would return at once.
      pollfd fds[2] = {{stop_fd_, POLLIN, 0}, {fired_ ? -1 : interrupt_fd_, POLLIN, 0}};
      ::poll(fds, 2, 1000);
      if (fds[0].revents) break;
      const uint64_t now_beats = beats_.load(std::memory_order_relaxed);
      if (now_beats != last) {
        last = now_beats;
        last_change = Clock::now();
      }
      // Ctrl-C counts as a stall, beats or not: the peers are dead already,
      // and a wait on shared memory or a service would otherwise last the
      // whole timeout.
      if (!fired_ && (interrupted_() ||
                      std::chrono::duration<double>(Clock::now() - last_change).count() > timeout_.load())) {
        fired_ = true;
        on_stall_();
      }
    }
  }

  std::atomic<double> timeout_;
  std::function<void()> on_stall_;
  std::function<bool()> interrupted_;
  const int interrupt_fd_;
  const int stop_fd_;
  std::atomic<uint64_t> beats_{0};
  std::atomic<bool> fired_{false};
  std::thread thread_;  // last: started once everything it reads exists
};

}  // namespace interop
