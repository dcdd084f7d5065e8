// Where the project's files are at run time: the source tree (peer scripts,
// schemas) and the build tree (the C++ peer). Baked in at build time; the
// environment variables INTEROP_SOURCE_DIR / INTEROP_BINARY_DIR override them.
#pragma once

#include <string>

namespace interop {

std::string SourceDir();
std::string BinaryDir();
// Debian's interpreter, the one that sees the python3-* packages.
inline constexpr const char* kPythonInterpreter = "/usr/bin/python3";

}  // namespace interop
