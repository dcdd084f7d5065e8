// Shared by the tests that start real peers: a run context, and checks that
// nothing was left behind.
#pragma once

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <atomic>
#include <chrono>
#include <fstream>
#include <optional>
#include <thread>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "bench/pinning.h"
#include "bench/plan.h"
#include "bench/runner.h"
#include "bench/services.h"
#include "common/temp_dir.h"

namespace interop::testing_support {

// Pids of live (non-zombie) processes whose parent is `parent`.
inline std::vector<pid_t> ChildrenOf(pid_t parent) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    const pid_t pid = static_cast<pid_t>(std::atol(e->d_name));
    if (pid <= 0) continue;
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    // "pid (comm) state ppid ...": comm may hold spaces, so parse after ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    char state = 0;
    long ppid = 0;
    if (std::sscanf(line.c_str() + close + 1, " %c %ld", &state, &ppid) == 2 && ppid == parent && state != 'Z') {
      out.push_back(pid);
    }
  }
  ::closedir(d);
  return out;
}

// The short command name of a process ("cpp_peer", "python3", "ruby").
inline std::string CommandName(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string name;
  std::getline(in, name);
  return name;
}

// /dev/shm entries of this process's segments (interop-spectrum-PID-*).
inline std::vector<std::string> OurShmSegments() {
  std::vector<std::string> out;
  const std::string prefix = "interop-spectrum-" + std::to_string(::getpid()) + "-";
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm", ec)) {
    if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path().string());
  }
  return out;
}

// SIGKILLs the first child of this process named `command` once it has been
// seen for `after`, from a thread, while the test runs a row: "a peer killed
// mid-run". killed() says whether it found one; the destructor joins.
class ChildKiller {
 public:
  ChildKiller(std::string command, std::chrono::milliseconds after)
      : thread_([this, command = std::move(command), after] {
          const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
          std::optional<std::chrono::steady_clock::time_point> seen;
          while (!killed_ && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
            for (pid_t pid : ChildrenOf(::getpid())) {
              if (CommandName(pid) != command) continue;
              if (!seen) seen = std::chrono::steady_clock::now();
              if (std::chrono::steady_clock::now() - *seen >= after) {
                ::kill(pid, SIGKILL);
                killed_ = true;
              }
            }
          }
        }) {}
  ~ChildKiller() {
    if (thread_.joinable()) thread_.join();
  }
  bool killed() {
    if (thread_.joinable()) thread_.join();
    return killed_;
  }

 private:
  std::atomic<bool> killed_{false};
  std::thread thread_;
};

// A private run dir, log dir and pinning, like bench sets up.
struct Fixture {
  TempDir dir;
  std::string log_dir;
  Pinning pinning;
  std::unique_ptr<Services> services;
  RunContext context;
  explicit Fixture(std::string external_redis_url = "", PinPolicy policy = PinPolicy::kAuto)
      : log_dir(dir.path() + "/logs"), pinning(policy) {
    std::filesystem::create_directories(log_dir);
    const std::string run_id = "test-" + std::to_string(::getpid());
    services = std::make_unique<Services>(dir.path(), run_id, log_dir, external_redis_url);
    context = {dir.path(), log_dir, &pinning, run_id, services.get()};
  }
  // The private redis-server must stop before the run dir goes.
  ~Fixture() { services.reset(); }
};

// The CPUs a process may run on right now, from /proc ("0", "0-1", ...).
inline std::string CpusAllowed(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("Cpus_allowed_list:", 0) == 0) return line.substr(line.find_first_not_of(" \t", 18));
  }
  return {};
}

// Records, from a thread, every CPU list a process was allowed while the
// test ran a row (e.g. the broker, placed for the row only).
class AffinitySpy {
 public:
  explicit AffinitySpy(pid_t pid)
      : thread_([this, pid] {
          while (!stop_) {
            const std::string cpus = CpusAllowed(pid);
            {
              std::lock_guard<std::mutex> lock(mutex_);
              if (!cpus.empty() && (seen_.empty() || seen_.back() != cpus)) seen_.push_back(cpus);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
          }
        }) {}
  ~AffinitySpy() { Stop(); }
  std::vector<std::string> Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    std::lock_guard<std::mutex> lock(mutex_);
    return seen_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::vector<std::string> seen_;
  std::thread thread_;
};

// The row (or floor) of a transport, by name, with its default codec.
inline RowSpec Spec(const std::string& transport, PeerKind peer, RowRole role = RowRole::kRow,
                    std::vector<std::string> extra_peer_args = {}) {
  const TransportSpec* t = FindTransport(transport);
  if (!t) throw std::invalid_argument("no transport " + transport);
  return MakeRowSpec(t, peer, role, std::move(extra_peer_args));
}

// Settings for a brief real run.
inline RunSettings Brief(Op op = Op::kAdd) {
  RunSettings s;
  s.op = op;
  s.features = 256;
  s.calls = 300;
  s.warmup_s = 0.02;
  s.repetitions = 1;
  s.throughput_s = 0.05;
  s.call_timeout_s = 5;
  s.ready_timeout_s = 30;
  return s;
}

}  // namespace interop::testing_support
