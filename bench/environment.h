// What every result file says about where its numbers came from: machine,
// kernel, compiler, runtimes and libraries, git commit, flags.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace interop {

// Collects the environment (runs a few version commands; ~100 ms).
nlohmann::ordered_json CaptureEnvironment(const std::string& command_line);

// First line of a command's stdout (stderr discarded), or "" if it failed.
std::string CommandOutputLine(const std::string& command);

}  // namespace interop
