// A private (0700) directory for one run's sockets, logs and handoff files,
// removed with everything in it when the owner goes away. A file inside names
// the owning pid, so a later run can remove directories left by a run that was
// killed before it could clean up (RemoveStaleTempDirs).
#pragma once

#include <string>

namespace interop {

class TempDir {
 public:
  // Creates $TMPDIR/interop-spectrum-XXXXXX (or /tmp). Throws std::runtime_error.
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Removes the directory now (idempotent).
  void Remove();

 private:
  std::string path_;
};

// True while a process with this pid exists (EPERM: it does, someone else's).
// The stale-resource sweeps (temp dirs, shm segments) keep what it says is alive.
bool ProcessExists(long pid);

// Removes interop-spectrum-* directories whose owning process no longer exists.
// Returns how many were removed.
int RemoveStaleTempDirs();

// rm -r; errors are ignored (best effort cleanup).
void RemoveTree(const std::string& path);

// The directory temp dirs are made in: $TMPDIR if set, else /tmp.
std::string TempRoot();

}  // namespace interop
