// One peer process, from fork to reap. The peer runs in its own process group
// (so the whole group can be killed), dies with the harness (PR_SET_PDEATHSIG),
// writes its stderr to a log file, and must print "READY <address>" on stdout
// within the timeout. The destructor always stops and reaps it.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "transports/transport.h"

namespace interop {

struct PeerLaunch {
  std::vector<std::string> argv;  // argv[0] is a path to execute
  bool stdio_channel = false;     // keep pipes to the peer's stdin/stdout for the transport
  int cpu = -1;                   // pin the peer to this CPU; -1 leaves it free
  std::string log_path;           // the peer's stderr
  double ready_timeout_s = 30;
  std::vector<std::string> env;   // "KEY=VALUE" added to (or replacing in) the harness's environment
  // For services that print no READY line (redis-server): polled every 10 ms
  // until it returns true; stdout then goes to the log file too.
  std::function<bool()> ready_probe;
  std::string ready_address;      // the endpoint address when ready_probe is used
};

// Starting failed; what() says why, with the peer's last stderr lines.
class PeerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class PeerProcess {
 public:
  // Starts the peer and waits for READY. Throws PeerError.
  explicit PeerProcess(const PeerLaunch& launch);
  ~PeerProcess();
  PeerProcess(const PeerProcess&) = delete;
  PeerProcess& operator=(const PeerProcess&) = delete;

  const PeerEndpoint& endpoint() const { return endpoint_; }
  pid_t pid() const { return pid_; }

  // SIGKILLs the peer's process group now; safe to call from a watchdog thread.
  void Kill();
  // Stops the peer (SIGTERM, then SIGKILL after a grace period) and reaps it.
  // Returns how it ended, e.g. "exited with status 0". Idempotent.
  std::string Stop();
  // After a failed call: waits up to grace_s for the peer to end by itself and
  // describes how it ended, or "still running" if it did not.
  std::string DescribeExit(double grace_s);
  // The last `lines` lines of the peer's stderr log, joined with " | ".
  std::string StderrTail(int lines) const;

 private:
  bool Reap(bool block);  // true once the peer has been reaped
  void WaitForProbe(const PeerLaunch& launch, std::chrono::steady_clock::time_point start);
  void ClosePipes();

  std::string log_path_;
  pid_t pid_ = -1;
  std::atomic<bool> reaped_{false};  // read by Kill() on the watchdog's thread
  int wait_status_ = 0;
  PeerEndpoint endpoint_;
};

// "exited with status N" / "killed by signal N (name)".
std::string DescribeWaitStatus(int status);

// The last `lines` lines of a text file, joined with " | " (empty if none).
std::string FileTail(const std::string& path, int lines);

}  // namespace interop
