// The file handoff protocol (schemas/json_transports.md), shared by the
// harness's client and the C++ peer: names, atomic publish, bounded read,
// and the two ways to wait for a name to appear (inotify, or a 1 ms poll).
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace interop::handoff {

inline constexpr int kPollIntervalUs = 1000;  // POLL_INTERVAL

struct Address {
  std::string dir;
  bool poll = false;  // "DIR?wait=poll"
};
// Throws TransportError on an empty directory.
Address ParseAddress(const std::string& text);

// "req-7.json" -> 7 (prefix "req"), "rep-7.json" -> 7 (prefix "rep");
// nullopt for other names (temporaries, the other side's files).
std::optional<uint64_t> IdOf(const std::string& name, std::string_view prefix);
inline std::optional<uint64_t> RequestId(const std::string& name) { return IdOf(name, "req"); }

// Writes `.PREFIX-ID.json.tmp`, then renames it to `PREFIX-ID.json`: a reader
// can never see the file half-written. Throws TransportError.
void Publish(const std::string& dir, const char* prefix, uint64_t id, const std::string& body);

// Reads a whole file of at most max_bytes and removes it. Throws TransportError.
std::string TakeFile(const std::string& path, std::size_t max_bytes);

// Waits for names in one directory: by inotify (IN_MOVED_TO) or by listing it
// every kPollIntervalUs. The watch is set up in the constructor, so a name
// that appears after it cannot be missed.
class DirWatcher {
 public:
  DirWatcher(const std::string& dir, bool poll);
  ~DirWatcher();
  DirWatcher(const DirWatcher&) = delete;
  DirWatcher& operator=(const DirWatcher&) = delete;

  // Waits until `name` exists in the directory. False if `give_up` became
  // true first (checked at least every 100 ms).
  bool WaitFor(const std::string& name, const std::atomic<bool>& give_up);

  // Waits up to timeout_ms for new names and returns them (inotify), or
  // lists the directory (poll mode, after one interval).
  std::vector<std::string> Next(int timeout_ms);

 private:
  std::string dir_;
  bool poll_;
  int inotify_fd_ = -1;
};

}  // namespace interop::handoff
