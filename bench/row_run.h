// Everything one row needs around its measurement, set up in order and torn
// down in reverse, whatever way the row ends: the resources its address names
// (a shared-memory segment, a handoff dir), its peer process (pinned, READY
// awaited), the calling thread's pin, and its watchdog (pinned off the
// caller's core), and the broker a call passes through (the private
// redis-server: placed for the row, its CPU counted). Rows and floors use it
// in the harness; in-process rows use it inside their forked child, where
// there is no peer. Processes to come (a caller in another language) belong
// here too.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "bench/measure.h"
#include "bench/peer_process.h"
#include "bench/plan.h"
#include "bench/runner.h"
#include "bench/watchdog.h"

namespace interop {

// The row cannot start: a service is missing, its resources or its peer
// could not be set up. what() is the reason the row shows.
class RowSetupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The exit status of an in-process row's child whose watchdog gave up: a
// call stuck inside an embedded interpreter cannot be interrupted.
inline constexpr int kStalledExit = 86;

class RowRun {
 public:
  // Throws RowSetupError. `transport` (constructed, not yet open) is aborted
  // if the watchdog fires, and closed when the row run ends: after the
  // watchdog has stopped (so an Abort can never race the Close), before the
  // peer is stopped.
  RowRun(const RowSpec& spec, const RunSettings& settings, const RunContext& context, Transport& transport);
  ~RowRun();
  RowRun(const RowRun&) = delete;
  RowRun& operator=(const RowRun&) = delete;

  // How the transport reaches the peer (empty for in-process rows).
  const PeerEndpoint& endpoint() const { return peer_ ? peer_->endpoint() : no_peer_; }
  Watchdog& watchdog() { return *watchdog_; }
  // Call once the transport is open. Until then the watchdog allows the
  // ready timeout (connecting, an embedded interpreter starting) and only
  // kills the peer: it never aborts a transport still being opened.
  void Opened();
  // The peer process's CPU clock; nullptr for in-process rows.
  const CpuClock* peer_cpu() const { return peer_cpu_ ? &*peer_cpu_ : nullptr; }
  // The broker's (the private redis-server's); nullptr without one of ours.
  const CpuClock* broker_cpu() const { return broker_cpu_ ? &*broker_cpu_ : nullptr; }

  // The row's failure reason for an exception out of its measurement: a
  // watchdog timeout or Ctrl-C said as such, then how the peer ended and the
  // last lines it wrote to stderr.
  std::string DescribeFailure(const std::string& what);

 private:
  const RunSettings& settings_;
  Transport& transport_;
  Placement placement_;
  std::shared_ptr<void> resources_;  // declared before the peer: released after it stops
  std::optional<PeerProcess> peer_;
  std::optional<CpuClock> peer_cpu_;
  std::optional<ProcessPin> broker_pin_;  // placed for this row, given all CPUs back after it
  std::optional<CpuClock> broker_cpu_;
  PeerEndpoint no_peer_;
  std::optional<ThreadPin> pin_;    // the calling thread's; undone after the peer has stopped
  std::atomic<bool> opened_{false};  // read by the watchdog's thread
  std::optional<Watchdog> watchdog_;
};

}  // namespace interop
