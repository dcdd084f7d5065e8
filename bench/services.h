// Services some transports need besides their peer: today, Redis. By default
// the harness starts a private redis-server on a Unix socket in the run's
// private dir (no TCP port, no persistence), on first use, and stops it when
// the run ends, whatever way it ends. --redis=URL uses an existing server
// instead; then only keys under this run's prefix are touched, and deleted.
#pragma once

#include <sys/types.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace interop {

class PeerProcess;

// A service could not be had; rows needing it fail with this reason.
class ServiceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Services {
 public:
  // external_redis_url: empty for a private server.
  Services(std::string run_dir, std::string run_id, std::string log_dir, std::string external_redis_url);
  ~Services();
  Services(const Services&) = delete;
  Services& operator=(const Services&) = delete;

  // The Redis URL rows use (unix:///... or redis://host:port). Starts the
  // private server on first call. Throws ServiceError (and again on every
  // later call: a server that failed once is not retried).
  std::string RedisUrl();
  // Stops the private server, or deletes this run's keys on an external one.
  void Shutdown();

  // The private redis-server's pid, once started: a broker the harness places
  // and accounts like a peer. Nothing for --redis=URL: an external server is
  // neither placed nor counted.
  std::optional<pid_t> PrivateRedisPid() const;

  // For --pin=auto: the median round trip of a minimal queue call through
  // the private redis-server (LPUSH to a list that a forked helper BRPOPs,
  // its answer LPUSHed to a second list this thread BRPOPs), with this
  // thread, the helper and the server pinned as given: the hops and the
  // broker's work of a Redis row, without its payload. 0 if it cannot be
  // measured (no private server, or a step failed).
  double BrokerRoundTripP50(int caller_cpu, int peer_cpu, int broker_cpu, int round_trips);
  bool RedisIsExternal() const { return !external_redis_url_.empty(); }

 private:
  std::string run_dir_;
  std::string run_id_;
  std::string log_dir_;
  std::string external_redis_url_;
  std::unique_ptr<PeerProcess> redis_;
  std::string redis_url_;
  std::string redis_error_;
};

// PING over a fresh connection; true on PONG.
bool RedisAnswersPing(const std::string& url);

}  // namespace interop
