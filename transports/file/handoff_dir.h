// The file handoff protocol (schemas/json_transports.md), shared by the
// harness's client and the C++ peer: names, atomic publish, bounded read,
// and the two ways to wait for a name to appear (inotify, or a 1 ms poll).
#pragma once

#include <atomic>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "transports/transport.h"

namespace interop::handoff {

inline constexpr int kPollIntervalUs = 1000;  // POLL_INTERVAL

struct Address {
  std::string dir;
  bool poll = false;  // "DIR?wait=poll"
};
// Throws TransportError on an empty directory.
Address ParseAddress(const std::string& text);

// A message's file name ends with its codec's extension (json_transports.md):
// ".json", ".raw" (a raw frame) or ".pb" (a protobuf message).
std::string_view ExtensionOf(Codec codec);
// The largest file a reader takes in that codec: MAX_JSON_BYTES for JSON,
// a whole raw frame of a batch or a protobuf message of MAX_BATCH_PAYLOAD.
std::size_t MaxFileBytes(Codec codec);

// "req-7.json" -> 7 (prefix "req", extension ".json"), "rep-7.pb" -> 7
// (prefix "rep", ".pb"); nullopt for other names (temporaries, the other
// side's files, another codec's).
std::optional<uint64_t> IdOf(const std::string& name, std::string_view prefix, std::string_view extension);
inline std::optional<uint64_t> RequestId(const std::string& name, std::string_view extension) {
  return IdOf(name, "req", extension);
}
// "rep-7.pb"
std::string FileName(const char* prefix, uint64_t id, std::string_view extension);

// Writes `.PREFIX-ID.EXT.tmp`, then renames it to `PREFIX-ID.EXT`: a reader
// can never see the file half-written. Throws TransportError.
void Publish(const std::string& dir, const char* prefix, uint64_t id, std::string_view extension,
             std::string_view body);

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
