#include "bench/environment.h"

#include <benchmark/benchmark.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <thread>

#include "common/paths.h"

namespace interop {

std::string CommandOutputLine(const std::string& command) {
  FILE* p = ::popen((command + " 2>/dev/null").c_str(), "r");
  if (!p) return {};
  char buf[512] = {};
  std::string line;
  if (std::fgets(buf, sizeof buf, p)) line = buf;
  if (::pclose(p) != 0) return {};  // a failed command's output is not an answer
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

namespace {

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

std::string UtcNow() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

std::string CpuScalingGovernor() {
  std::ifstream in("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
  std::string g;
  return (in >> g) ? g : "not exposed (VM or no cpufreq)";
}

}  // namespace

nlohmann::ordered_json CaptureEnvironment(const std::string& command_line) {
  utsname u{};
  ::uname(&u);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const std::string src = SourceDir();
  std::string commit = CommandOutputLine("git -C '" + src + "' rev-parse HEAD");
  if (commit.empty()) commit = "unknown (not a git checkout)";
  // Dirty means the code measured differs from the commit; results/ is what
  // scripts/results is rewriting at that very moment, not code.
  else if (!CommandOutputLine("git -C '" + src + "' status --porcelain --untracked-files=no -- . ':!results'").empty()) {
    commit += "-dirty";
  }
  nlohmann::ordered_json env;
  env["date_utc"] = UtcNow();
  env["host"] = host;
  env["cpu_model"] = CpuModel();
  env["cores"] = std::thread::hardware_concurrency();
  env["cpu_governor"] = CpuScalingGovernor();
  env["kernel"] = std::string(u.sysname) + " " + u.release;
  env["machine"] = u.machine;
  env["compiler"] = std::string("g++ ") + __VERSION__;
#ifdef NDEBUG
  env["build_type"] = "release (NDEBUG)";
#else
  env["build_type"] = "debug: timings are not representative";
#endif
  // The host as Google Benchmark itself sees it, for gbench.json's context.
  const benchmark::CPUInfo& gb = benchmark::CPUInfo::Get();
  env["mhz_per_cpu"] = static_cast<int>(gb.cycles_per_second / 1e6);
  env["cpu_scaling_enabled"] = gb.scaling == benchmark::CPUInfo::ENABLED;
  env["caches"] = nlohmann::ordered_json::array();
  for (const auto& c : gb.caches) {
    env["caches"].push_back({{"type", c.type}, {"level", c.level}, {"size", c.size}, {"num_sharing", c.num_sharing}});
  }
  env["load_avg"] = gb.load_avg;
  env["python"] = CommandOutputLine(std::string(kPythonInterpreter) + " --version");
  env["ruby"] = CommandOutputLine("/usr/bin/ruby --version");
  env["git_commit"] = commit;
  env["command_line"] = command_line;
  return env;
}

}  // namespace interop
