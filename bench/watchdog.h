// Fails a row whose peer stops answering: if no call completes for the
// timeout, it runs on_stall once (kill the peer, which unblocks a read; raise
// a give-up flag for waits on shared memory). Ctrl-C counts as a stall too.
//
// It stays off the measured core: its thread pins itself to `cpu` (the
// placement gives it a core other than the caller's whenever there is one)
// and wakes four times a second, so a stall is noticed within timeout +
// 0.25 s, and Ctrl-C within 0.25 s.
#pragma once

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

#include "bench/pinning.h"

namespace interop {

class Watchdog {
 public:
  // cpu: where its thread runs (-1: anywhere the process may run).
  // interrupted: polled with the clock; true ends the wait (Ctrl-C).
  Watchdog(double timeout_s, int cpu, std::function<void()> on_stall,
           std::function<bool()> interrupted = [] { return false; })
      : timeout_(timeout_s), on_stall_(std::move(on_stall)), interrupted_(std::move(interrupted)),
        thread_([this, cpu] {
          pthread_setname_np(pthread_self(), "row-watchdog");  // so tests and ps can find it
          PinCurrentThread(cpu);
          Loop();
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    thread_.join();
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
    std::unique_lock<std::mutex> lock(mutex_);
    uint64_t last = beats_.load();
    auto last_change = Clock::now();
    while (!stop_) {
      wake_.wait_for(lock, std::chrono::milliseconds(250));
      if (stop_) break;
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
  std::atomic<uint64_t> beats_{0};
  std::atomic<bool> fired_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace interop
