#include "common/paths.h"

#include <cstdlib>

namespace interop {
namespace {
std::string FromEnv(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return (v && *v) ? v : fallback;
}
}  // namespace

std::string SourceDir() { return FromEnv("INTEROP_SOURCE_DIR", INTEROP_SOURCE_DIR); }
std::string BinaryDir() { return FromEnv("INTEROP_BINARY_DIR", INTEROP_BINARY_DIR); }

}  // namespace interop
