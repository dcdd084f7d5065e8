#include "bench/peer_process.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>
#include <thread>

#include "bench/process_guard.h"
#include "common/fd_io.h"

namespace interop {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

}  // namespace

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* name = sigdescr_np(sig);
    return "killed by signal " + std::to_string(sig) + (name ? std::string(" (") + name + ")" : "");
  }
  return "ended with wait status " + std::to_string(status);
}

std::string FileTail(const std::string& path, int lines) {
  std::ifstream in(path);
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    tail.push_back(line);
    if (static_cast<int>(tail.size()) > lines) tail.pop_front();
  }
  std::string out;
  for (const auto& l : tail) out += (out.empty() ? "" : " | ") + l;
  return out;
}

PeerProcess::PeerProcess(const PeerLaunch& launch) : log_path_(launch.log_path) {
  if (launch.argv.empty()) throw PeerError("empty peer command");
  // Everything the child needs is prepared before fork(): after it, only
  // async-signal-safe calls are made (the harness may have other threads).
  std::vector<char*> argv;
  for (const auto& a : launch.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = launch.env;
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    const std::string key = entry.substr(0, entry.find('=') + 1);
    bool overridden = false;
    for (const auto& add : launch.env) overridden |= add.rfind(key, 0) == 0;
    if (!overridden) env_strings.push_back(entry);
  }
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  const int log_fd = ::open(launch.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log_fd < 0) throw PeerError(ErrnoMessage("cannot create " + launch.log_path));
  int out_pipe[2] = {-1, -1}, in_pipe[2] = {-1, -1};
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || (launch.stdio_channel && ::pipe2(in_pipe, O_CLOEXEC) != 0) ||
      null_fd < 0) {
    const std::string msg = ErrnoMessage("pipe2 or /dev/null");
    for (int fd : {log_fd, null_fd, out_pipe[0], out_pipe[1], in_pipe[0], in_pipe[1]}) {
      if (fd >= 0) ::close(fd);
    }
    throw PeerError(msg);
  }
  const pid_t parent = ::getpid();
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  if (launch.cpu >= 0) CPU_SET(launch.cpu, &cpus);

  pid_ = ::fork();
  if (pid_ == 0) {
    if (!BecomeGuardedChild(parent)) _exit(127);
    if (launch.cpu >= 0) ::sched_setaffinity(0, sizeof cpus, &cpus);
    ::dup2(launch.stdio_channel ? in_pipe[0] : null_fd, STDIN_FILENO);
    ::dup2(launch.ready_probe ? log_fd : out_pipe[1], STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    // Signals the harness ignores or handles must be default again in the peer.
    ::signal(SIGPIPE, SIG_DFL);
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGHUP, SIG_DFL);
    ::execve(argv[0], argv.data(), envp.data());
    const char msg[] = "peer: exec failed\n";
    (void)!::write(STDERR_FILENO, msg, sizeof msg - 1);
    _exit(127);
  }
  ::close(log_fd);
  ::close(null_fd);
  ::close(out_pipe[1]);
  if (launch.stdio_channel) ::close(in_pipe[0]);
  if (pid_ < 0) {
    ::close(out_pipe[0]);
    if (launch.stdio_channel) ::close(in_pipe[1]);
    throw PeerError(ErrnoMessage("fork"));
  }
  ::setpgid(pid_, pid_);  // also here, so the group exists before we might kill it
  GuardProcessGroup(pid_);
  endpoint_.from_peer_fd = out_pipe[0];
  endpoint_.to_peer_fd = launch.stdio_channel ? in_pipe[1] : -1;

  const auto start = Clock::now();
  if (launch.ready_probe) {
    WaitForProbe(launch, start);
    return;
  }
  // Read the READY line byte by byte: for `pipe`, the bytes after it are frames.
  std::string line;
  for (;;) {
    const double left = launch.ready_timeout_s - SecondsSince(start);
    if (left <= 0 || Interrupted()) {
      Kill();
      Stop();
      throw PeerError((Interrupted() ? std::string("interrupted") :
                       "no READY line within " + std::to_string(int(launch.ready_timeout_s)) + " s") +
                      "; stderr: " + StderrTail(5));
    }
    pollfd p{endpoint_.from_peer_fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left * 1000) + 1);
    if (ready <= 0) continue;
    char c;
    const ssize_t r = ::read(endpoint_.from_peer_fd, &c, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {  // stdout closed: the peer died (or closed it) before READY
      const std::string how = DescribeExit(2.0);
      Stop();
      throw PeerError("peer " + how + " before READY; stderr: " + StderrTail(5));
    }
    if (c == '\n') break;
    if (line.size() > 4096) {
      Stop();
      throw PeerError("peer printed a line of over 4 KiB instead of READY");
    }
    line += c;
  }
  if (line.rfind("READY ", 0) != 0) {
    Stop();
    throw PeerError("peer printed '" + line + "' instead of 'READY <address>'");
  }
  endpoint_.address = line.substr(6);
}

void PeerProcess::WaitForProbe(const PeerLaunch& launch, Clock::time_point start) {
  for (;;) {
    if (launch.ready_probe()) {
      endpoint_.address = launch.ready_address;
      return;
    }
    if (Reap(false)) {
      const std::string how = DescribeWaitStatus(wait_status_);
      Stop();
      throw PeerError(how + " before it was ready; log: " + StderrTail(5));
    }
    if (SecondsSince(start) > launch.ready_timeout_s || Interrupted()) {
      Stop();
      throw PeerError("not ready within " + std::to_string(int(launch.ready_timeout_s)) + " s; log: " + StderrTail(5));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

PeerProcess::~PeerProcess() { Stop(); }

void PeerProcess::Kill() {
  if (pid_ > 0 && !reaped_) ::kill(-pid_, SIGKILL);
}

bool PeerProcess::Reap(bool block) {
  if (reaped_) return true;
  if (pid_ <= 0) return true;
  for (;;) {
    const pid_t r = ::waitpid(pid_, &wait_status_, block ? 0 : WNOHANG);
    if (r == pid_) {
      reaped_ = true;
      // The group leader is gone; kill anything it left in its group too.
      ::kill(-pid_, SIGKILL);
      UnguardProcessGroup(pid_);
      return true;
    }
    if (r < 0 && errno == EINTR) continue;
    return false;
  }
}

void PeerProcess::ClosePipes() {
  CloseFd(endpoint_.to_peer_fd);
  CloseFd(endpoint_.from_peer_fd);
}

std::string PeerProcess::DescribeExit(double grace_s) {
  const auto start = Clock::now();
  while (!Reap(false) && SecondsSince(start) < grace_s) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return reaped_ ? DescribeWaitStatus(wait_status_) : "still running";
}

std::string PeerProcess::Stop() {
  if (pid_ <= 0) return "not started";
  if (!reaped_) {
    // Closing its stdin ends a pipe peer cleanly; SIGTERM ends the others.
    // After Ctrl-C nothing is graceful: the peer was SIGKILLed already.
    CloseFd(endpoint_.to_peer_fd);
    ::kill(-pid_, Interrupted() ? SIGKILL : SIGTERM);
    if (DescribeExit(2.0) == "still running") {
      Kill();
      Reap(true);
    }
  }
  ClosePipes();
  return DescribeWaitStatus(wait_status_);
}

std::string PeerProcess::StderrTail(int lines) const {
  const std::string tail = FileTail(log_path_, lines);
  return tail.empty() ? "(empty)" : tail;
}

}  // namespace interop
