#include "bench/row_run.h"

#include <unistd.h>

#include <cstdio>

#include "bench/measure.h"
#include "transports/codec/codec.h"
#include "bench/process_guard.h"
#include "bench/services.h"
#include "common/paths.h"

namespace interop {
namespace {

// How a row's peer is started (command, stdio, CPU, log file), after the
// resources its address names are made. Throws ServiceError, TransportError.
PeerLaunch MakePeerLaunch(std::shared_ptr<void>* resources, const RowSpec& spec, const RunSettings& s,
                          const RunContext& ctx, const Placement& place) {
  const std::string tag = RowTag(spec);
  PeerLaunch launch;
  AddressContext where{ctx.run_dir, tag, ctx.run_id, ""};
  where.inflight = MostInFlight(spec, s);
  const auto sample = MakeSampleMessage(s, spec.batch, 1);
  where.sample = &sample->request;
  where.echo = spec.role == RowRole::kFloor;
  where.codec = CodecOf(spec);
  if (spec.transport->needs_redis) where.redis_url = ctx.services->RedisUrl();
  std::string address;
  if (spec.transport->prepare) {
    where.wait_spinning_apart = place.peer_cpu >= 0 && place.peer_cpu != place.caller_cpu;
    *resources = spec.transport->prepare(where, &address);
  } else {
    address = spec.transport->listen_address(where);
  }
  launch.argv = PeerCommand(spec.peer, spec, address, where.inflight);
  launch.stdio_channel = spec.transport->peer_uses_stdio;
  launch.cpu = place.peer_cpu;
  launch.log_path = ctx.log_dir + "/" + tag + ".stderr.log";
  launch.ready_timeout_s = s.ready_timeout_s;
  // Where the Python and Ruby peers find the code generated from interop.proto.
  launch.env = {"INTEROP_GENERATED_DIR=" + BinaryDir() + "/generated", "PYTHONDONTWRITEBYTECODE=1"};
  return launch;
}

}  // namespace

RowRun::RowRun(const RowSpec& spec, const RunSettings& s, const RunContext& ctx, Transport& transport)
    : settings_(s), transport_(transport), placement_(PlacementOf(*spec.transport, ctx)) {
  if (spec.transport->wait_style == WaitStyle::kInProcess) {
    pin_.emplace(placement_.caller_cpu);
    // A call stuck in an embedded interpreter cannot be aborted: the child ends.
    watchdog_.emplace(s.ready_timeout_s, placement_.watchdog_cpu, [] {
      const char msg[] = "in-process call made no progress; giving up\n";
      (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
      _exit(kStalledExit);
    });
    return;
  }
  PeerLaunch launch;
  try {
    launch = MakePeerLaunch(&resources_, spec, s, ctx, placement_);
  } catch (const ServiceError& e) {
    throw RowSetupError(std::string("service unavailable: ") + e.what());
  } catch (const TransportError& e) {
    throw RowSetupError(std::string("cannot prepare the row: ") + e.what());
  }
  // The private redis-server started (on first use) while the launch was
  // made: place it with this row, and count its CPU.
  if (spec.transport->needs_redis && ctx.services) {
    if (const auto pid = ctx.services->PrivateRedisPid()) {
      broker_pin_.emplace(*pid, placement_.broker_cpu);
      broker_cpu_ = CpuClock::OfProcess(*pid);
    }
  }
  try {
    peer_.emplace(launch);
  } catch (const PeerError& e) {
    throw RowSetupError(std::string("peer did not start: ") + e.what());
  }
  peer_cpu_ = CpuClock::OfProcess(peer_->pid());
  pin_.emplace(placement_.caller_cpu);
  watchdog_.emplace(s.ready_timeout_s, placement_.watchdog_cpu, [this, &transport] {
    peer_->Kill();                    // a read on a socket or pipe ends with the peer...
    if (opened_) transport.Abort();   // ...a wait on shared memory, Redis or a directory is told to stop
  }, Interrupted, InterruptWakeFd());
}

void RowRun::Opened() {
  opened_ = true;
  watchdog_->SetTimeout(settings_.call_timeout_s);
  watchdog_->Beat();
}

RowRun::~RowRun() {
  watchdog_.reset();  // first: it must not fire (and Abort) while the row is taken down
  try {
    transport_.Close();
  } catch (const std::exception& e) {  // a destructor must not throw; the peer goes anyway
    std::fprintf(stderr, "closing the transport failed: %s\n", e.what());
  }
  if (peer_) peer_->Stop();
  // Then, by member order: the caller's pin and the broker's are undone, and
  // the resources go last, after the peer that used them has stopped.
}

std::string RowRun::DescribeFailure(const std::string& what) {
  if (!peer_) return what;
  std::string why = what;
  if (Interrupted()) {
    why = "interrupted";
  } else if (watchdog_->fired() && !opened_) {
    why = "not connected within " + std::to_string(static_cast<int>(settings_.ready_timeout_s)) +
          " s; the peer was killed";
  } else if (watchdog_->fired()) {
    why = "no reply within " + std::to_string(static_cast<int>(settings_.call_timeout_s)) + " s; the peer was killed";
  }
  return why + "; peer " + peer_->DescribeExit(1.0) + "; stderr: " + peer_->StderrTail(5);
}

}  // namespace interop
