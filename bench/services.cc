#include "bench/services.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "bench/peer_process.h"
#include "bench/pinning.h"
#include "bench/process_guard.h"
#include "bench/statistics.h"
#include "transports/redis/redis_address.h"
#include "transports/transport.h"

namespace interop {

namespace {
constexpr const char* kRedisServer = "/usr/bin/redis-server";
}

bool RedisAnswersPing(const std::string& url) {
  try {
    RedisConnection c = ConnectRedis(ParseRedisUrl(url));
    RedisReplyPtr r(static_cast<redisReply*>(redisCommand(c.get(), "PING")));
    return r && r->type == REDIS_REPLY_STATUS && std::string(r->str) == "PONG";
  } catch (const TransportError&) {
    return false;
  }
}

Services::Services(std::string run_dir, std::string run_id, std::string log_dir, std::string external_redis_url)
    : run_dir_(std::move(run_dir)), run_id_(std::move(run_id)), log_dir_(std::move(log_dir)),
      external_redis_url_(std::move(external_redis_url)) {}

Services::~Services() { Shutdown(); }

std::string Services::RedisUrl() {
  if (!redis_url_.empty()) return redis_url_;
  if (!redis_error_.empty()) throw ServiceError(redis_error_);
  if (!external_redis_url_.empty()) {
    try {
      ParseRedisUrl(external_redis_url_);
    } catch (const TransportError& e) {
      redis_error_ = std::string("--redis: ") + e.what();
      throw ServiceError(redis_error_);
    }
    if (!RedisAnswersPing(external_redis_url_)) {
      redis_error_ = "the Redis server at " + external_redis_url_ + " does not answer PING";
      throw ServiceError(redis_error_);
    }
    return redis_url_ = external_redis_url_;
  }
  if (::access(kRedisServer, X_OK) != 0) {
    redis_error_ = std::string(kRedisServer) + " not found (apt-get install redis-server)";
    throw ServiceError(redis_error_);
  }
  const std::string dir = run_dir_ + "/redis";
  ::mkdir(dir.c_str(), 0700);
  const std::string url = "unix://" + dir + "/redis.sock";
  PeerLaunch launch;
  launch.argv = {kRedisServer, "--port", "0", "--unixsocket", dir + "/redis.sock", "--unixsocketperm", "700",
                 "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", ""};
  launch.log_path = log_dir_ + "/redis-server.log";
  launch.ready_timeout_s = 10;
  launch.ready_probe = [url] { return RedisAnswersPing(url); };
  launch.ready_address = url;
  try {
    redis_ = std::make_unique<PeerProcess>(launch);
  } catch (const PeerError& e) {
    redis_error_ = std::string("private redis-server did not start: ") + e.what();
    throw ServiceError(redis_error_);
  }
  return redis_url_ = url;
}

std::optional<pid_t> Services::PrivateRedisPid() const {
  if (!redis_) return std::nullopt;
  return redis_->pid();
}

double Services::BrokerRoundTripP50(int caller_cpu, int peer_cpu, int broker_cpu, int round_trips) {
  std::optional<pid_t> broker;
  try {
    RedisUrl();  // starts the private server if it is not running yet
    broker = PrivateRedisPid();
  } catch (const ServiceError&) {
  }
  if (!broker) return 0;
  const RedisAddress address = ParseRedisUrl(redis_url_);
  const std::string requests = "interop:" + run_id_ + ":calibration:requests";
  const std::string replies = "interop:" + run_id_ + ":calibration:replies";
  ProcessPin broker_pin(*broker, broker_cpu);
  std::optional<RedisConnection> caller;
  try {
    caller.emplace(ConnectRedis(address));
  } catch (const TransportError&) {
    return 0;
  }
  // The helper (a forked child: this process has no other thread yet) pops
  // each request and pushes a reply, on its own connection.
  const std::vector<double> samples = ForkedRoundTrips(
      caller_cpu, peer_cpu, round_trips,
      [&] {
        RedisConnection c = ConnectRedis(address);
        for (;;) {
          RedisReplyPtr r(static_cast<redisReply*>(redisCommand(c.get(), "BRPOP %s 1", requests.c_str())));
          if (!r) return;
          if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) continue;
          RedisReplyPtr(static_cast<redisReply*>(redisCommand(c.get(), "LPUSH %s x", replies.c_str())));
        }
      },
      [&] {
        RedisReplyPtr pushed(static_cast<redisReply*>(redisCommand(caller->get(), "LPUSH %s x", requests.c_str())));
        RedisReplyPtr popped(static_cast<redisReply*>(redisCommand(caller->get(), "BRPOP %s 2", replies.c_str())));
        return pushed && popped && popped->type == REDIS_REPLY_ARRAY;
      });
  RedisReplyPtr(static_cast<redisReply*>(redisCommand(caller->get(), "DEL %s %s", requests.c_str(), replies.c_str())));
  return static_cast<int>(samples.size()) == round_trips ? Summarize(samples).p50 : 0;
}

void Services::Shutdown() {
  if (redis_) {
    redis_->Stop();
    redis_.reset();
  } else if (!redis_url_.empty()) {
    // An external server: delete every key this run created (SCAN, not KEYS).
    try {
      RedisConnection c = ConnectRedis(ParseRedisUrl(redis_url_));
      const std::string pattern = "interop:" + run_id_ + ":*";
      std::string cursor = "0";
      do {
        RedisReplyPtr r(static_cast<redisReply*>(
            redisCommand(c.get(), "SCAN %s MATCH %s COUNT 1000", cursor.c_str(), pattern.c_str())));
        if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) break;
        cursor = r->element[0]->str;
        for (std::size_t i = 0; i < r->element[1]->elements; ++i) {
          RedisReplyPtr(static_cast<redisReply*>(redisCommand(c.get(), "DEL %s", r->element[1]->element[i]->str)));
        }
      } while (cursor != "0");
    } catch (const TransportError&) {
      // Best effort: the server went away; nothing of ours can be left on it then.
    }
  }
  redis_url_.clear();
}

}  // namespace interop
