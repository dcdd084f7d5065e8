// For the C++ peer's servers that run their own threads (HTTP, gRPC, Redis):
// blocks SIGTERM/SIGINT in every thread created afterwards, so Wait() can
// take them synchronously and the server shuts down in an orderly way.
#pragma once

#include <pthread.h>
#include <signal.h>

namespace interop {

class StopSignals {
 public:
  StopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
  }
  // Blocks until SIGTERM or SIGINT; returns the signal.
  int Wait() {
    int sig = 0;
    sigwait(&set_, &sig);
    return sig;
  }
  // True if a stop signal is pending (for servers that poll between waits).
  bool Pending() {
    sigset_t pending;
    sigpending(&pending);
    return sigismember(&pending, SIGTERM) || sigismember(&pending, SIGINT);
  }

 private:
  sigset_t set_;
};

}  // namespace interop
