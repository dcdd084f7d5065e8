// The reply contract (transports/transport.h): the runner resets the Reply
// before every call, so one wrong answer is one error, never a trail of them.
// The embedded interpreters run a planted workload whose add() fails on one
// call only; everything else is the real ffi row, in its forked child.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "common/paths.h"
#include "test_support.h"

namespace interop {
namespace {

using namespace testing_support;
using ::testing::HasSubstr;

// Past the 10 warmup calls and the batch sizing (a few dozen calls at most
// for an embedded interpreter): inside a timed batch.
constexpr int kFailingCall = 1000;

// A source tree whose peers/<language>/ holds the planted workload, found by
// the harness through INTEROP_SOURCE_DIR for as long as this object lives.
class PlantedSourceTree {
 public:
  PlantedSourceTree(const std::string& language, const std::string& file, const std::string& text)
      : real_source_(SourceDir()) {
    const std::string dir = root_.path() + "/peers/" + language;
    std::filesystem::create_directories(dir);
    std::ofstream(dir + "/" + file) << text;
    std::ofstream(dir + (language == "python" ? "/peer.py" : "/peer.rb")) << "";  // "the peer exists here"
    ::setenv("INTEROP_SOURCE_DIR", root_.path().c_str(), 1);
  }
  ~PlantedSourceTree() { ::setenv("INTEROP_SOURCE_DIR", real_source_.c_str(), 1); }
  const std::string& real_source() const { return real_source_; }

 private:
  TempDir root_;
  std::string real_source_;
};

RunSettings ManyCalls() {
  RunSettings s = Brief();
  s.calls = 2000;
  s.warmup_s = 0;
  s.throughput_s = 0.02;
  return s;
}

// One error, and only its batch left untimed: every other batch was timed.
void ExpectOneErrorInATimedBatch(const RowResult& r) {
  EXPECT_EQ(r.errors, 1u) << r.reason;
  EXPECT_THAT(r.reason, HasSubstr("planted: this one call fails"));
  const uint64_t batch = r.calls_per_sample;
  const uint64_t samples = (2000 + batch - 1) / batch;
  EXPECT_EQ(r.calls, (samples - 1) * batch);
}

TEST(ReplyContract, OneFailingCallIntoEmbeddedPythonIsOneError) {
  const std::string real = SourceDir() + "/peers/python/workload.py";
  PlantedSourceTree tree("python", "workload.py",
                         "import importlib.util\n"
                         "_spec = importlib.util.spec_from_file_location('real_workload', '" + real + "')\n"
                         "_real = importlib.util.module_from_spec(_spec)\n"
                         "_spec.loader.exec_module(_real)\n"
                         "score, echo = _real.score, _real.echo\n"
                         "_calls = 0\n"
                         "def add(x, y):\n"
                         "    global _calls\n"
                         "    _calls += 1\n"
                         "    if _calls == " + std::to_string(kFailingCall) + ":\n"
                         "        raise ValueError('planted: this one call fails')\n"
                         "    return _real.add(x, y)\n");
  Fixture f;
  ExpectOneErrorInATimedBatch(RunRow(Spec("ffi", PeerKind::kPython), ManyCalls(), f.context));
}

TEST(ReplyContract, OneFailingCallIntoEmbeddedRubyIsOneError) {
  const std::string real = SourceDir() + "/peers/ruby/workload.rb";
  PlantedSourceTree tree("ruby", "workload.rb",
                         "require '" + real + "'\n"
                         "module Workload\n"
                         "  @planted_calls = 0\n"
                         "  class << self\n"
                         "    alias_method :real_add, :add\n"
                         "    def add(x, y)\n"
                         "      @planted_calls += 1\n"
                         "      raise ArgumentError, 'planted: this one call fails' if @planted_calls == " +
                             std::to_string(kFailingCall) + "\n"
                         "      real_add(x, y)\n"
                         "    end\n"
                         "  end\n"
                         "end\n");
  Fixture f;
  ExpectOneErrorInATimedBatch(RunRow(Spec("ffi", PeerKind::kRuby), ManyCalls(), f.context));
}

}  // namespace
}  // namespace interop
