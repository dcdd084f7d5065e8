#include "common/temp_dir.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <system_error>

namespace interop {
namespace fs = std::filesystem;

namespace {
constexpr const char* kPrefix = "interop-spectrum-";
constexpr const char* kOwnerFile = "owner.pid";
}  // namespace

std::string TempRoot() {
  const char* t = std::getenv("TMPDIR");
  return (t && *t) ? t : "/tmp";
}

TempDir::TempDir() {
  std::string templ = TempRoot() + "/" + kPrefix + "XXXXXX";
  if (!::mkdtemp(templ.data())) {  // mkdtemp creates it 0700
    throw std::runtime_error("cannot create a private temp dir in " + TempRoot());
  }
  path_ = templ;
  std::ofstream(path_ + "/" + kOwnerFile) << ::getpid() << "\n";
}

TempDir::~TempDir() { Remove(); }

void TempDir::Remove() {
  if (path_.empty()) return;
  RemoveTree(path_);
  path_.clear();
}

void RemoveTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
}

bool ProcessExists(long pid) {
  return pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM);
}

int RemoveStaleTempDirs() {
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(TempRoot(), ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kPrefix, 0) != 0 || !entry.is_directory(ec)) continue;
    std::ifstream owner(entry.path() / kOwnerFile);
    long pid = 0;
    if (!(owner >> pid) || pid <= 0) continue;  // not ours, or still being created
    if (ProcessExists(pid)) continue;
    RemoveTree(entry.path().string());
    ++removed;
  }
  return removed;
}

}  // namespace interop
