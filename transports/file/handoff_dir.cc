#include "transports/file/handoff_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <vector>

#include "common/fd_io.h"
#include "common/raw_frame.h"
#include "transports/transport.h"

namespace interop::handoff {

Address ParseAddress(const std::string& text) {
  Address a;
  const auto q = text.find('?');
  a.dir = text.substr(0, q);
  if (q != std::string::npos) {
    const std::string opt = text.substr(q + 1);
    if (opt == "wait=poll") a.poll = true;
    else if (opt != "wait=inotify") throw TransportError("unknown handoff option '" + opt + "'");
  }
  if (a.dir.empty()) throw TransportError("empty handoff directory");
  return a;
}

std::string_view ExtensionOf(Codec codec) {
  switch (codec) {
    case Codec::kRaw: return ".raw";
    case Codec::kJson: return ".json";
    case Codec::kProtobuf: return ".pb";
  }
  return ".json";
}

std::size_t MaxFileBytes(Codec codec) {
  return codec == Codec::kJson ? raw::kMaxJsonPayload : raw::kHeaderSize + raw::kMaxBatchPayload;
}

std::string FileName(const char* prefix, uint64_t id, std::string_view extension) {
  std::string name = prefix;
  (name += '-') += std::to_string(id);
  name += extension;
  return name;
}

std::optional<uint64_t> IdOf(const std::string& name, std::string_view prefix, std::string_view suffix) {
  if (name.size() <= prefix.size() + 1 + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
      name[prefix.size()] != '-' ||
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return std::nullopt;
  }
  uint64_t id = 0;
  const char* first = name.data() + prefix.size() + 1;
  const char* last = name.data() + name.size() - suffix.size();
  auto [ptr, ec] = std::from_chars(first, last, id);
  if (ec != std::errc() || ptr != last) return std::nullopt;
  return id;
}

void Publish(const std::string& dir, const char* prefix, uint64_t id, std::string_view extension,
             std::string_view body) {
  const std::string name = FileName(prefix, id, extension);
  const std::string tmp = dir + "/." + name + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw TransportError(ErrnoMessage("create " + tmp));
  const bool written = WriteFull(fd, body.data(), body.size());
  ::close(fd);
  if (!written || ::rename(tmp.c_str(), (dir + "/" + name).c_str()) != 0) {
    const std::string msg = ErrnoMessage("publish " + name);
    ::unlink(tmp.c_str());
    throw TransportError(msg);
  }
}

std::string TakeFile(const std::string& path, std::size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw TransportError(ErrnoMessage("open " + path));
  struct stat st {};
  std::string body;
  if (::fstat(fd, &st) == 0 && static_cast<std::size_t>(st.st_size) <= max_bytes) {
    body.resize(static_cast<std::size_t>(st.st_size));
    std::size_t got = 0;
    while (got < body.size()) {
      const ssize_t r = ::read(fd, body.data() + got, body.size() - got);
      if (r <= 0) break;
      got += static_cast<std::size_t>(r);
    }
    body.resize(got);
  }
  const bool too_big = static_cast<std::size_t>(st.st_size) > max_bytes;
  ::close(fd);
  ::unlink(path.c_str());
  if (too_big) throw TransportError(path + " is larger than " + std::to_string(max_bytes) + " bytes");
  return body;
}

DirWatcher::DirWatcher(const std::string& dir, bool poll) : dir_(dir), poll_(poll) {
  if (poll_) return;
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0 || ::inotify_add_watch(inotify_fd_, dir.c_str(), IN_MOVED_TO) < 0) {
    const std::string msg = ErrnoMessage("inotify on " + dir);
    CloseFd(inotify_fd_);
    throw TransportError(msg);
  }
}

DirWatcher::~DirWatcher() { CloseFd(inotify_fd_); }

std::vector<std::string> DirWatcher::Next(int timeout_ms) {
  std::vector<std::string> names;
  if (poll_) {
    ::usleep(kPollIntervalUs);
    if (DIR* d = ::opendir(dir_.c_str())) {
      while (dirent* e = ::readdir(d)) {
        if (e->d_name[0] != '.') names.emplace_back(e->d_name);
      }
      ::closedir(d);
    }
    return names;
  }
  pollfd p{inotify_fd_, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return names;
  alignas(inotify_event) char buf[16384];
  for (;;) {
    const ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
    if (n <= 0) break;
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      if (ev->len > 0) names.emplace_back(ev->name);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
    }
  }
  return names;
}

bool DirWatcher::WaitFor(const std::string& name, const std::atomic<bool>& give_up) {
  const std::string path = dir_ + "/" + name;
  if (poll_) {
    // The naive way: look for the file every interval.
    while (::access(path.c_str(), F_OK) != 0) {
      if (give_up.load(std::memory_order_relaxed)) return false;
      ::usleep(kPollIntervalUs);
    }
    return true;
  }
  for (;;) {
    for (const auto& n : Next(100)) {
      if (n == name) return true;
    }
    if (give_up.load(std::memory_order_relaxed)) return false;
  }
}

}  // namespace interop::handoff
