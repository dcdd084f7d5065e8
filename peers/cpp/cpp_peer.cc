// The native floor peer: same command line and READY handshake as
// peers/python/peer.py and peers/ruby/peer.rb (peers/README.md).
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "transports/peer_options.h"
#include "transports/file/file_server.h"
#include "transports/grpc/grpc_server.h"
#include "transports/pipe/pipe_server.h"
#include "transports/redis/redis_server.h"
#include "transports/rest/rest_server.h"
#include "transports/shm/shm_server.h"
#include "transports/raw_stream/raw_stream_server.h"
#include "transports/tcp/tcp_server.h"
#include "transports/unix/unix_server.h"

namespace {

struct Server {
  std::string_view transport;
  std::string_view codecs;  // the default first
  int (*serve)(const interop::PeerOptions&);
};

// One line per transport the C++ peer serves. The tiers that carry opaque
// bytes speak every codec (a frame's kind says which; Redis values and files
// are in the row's --codec).
constexpr Server kServers[] = {
    {"unix", "raw,json,protobuf", interop::ServeUnixSocket},
    {"tcp", "raw,json,protobuf", interop::ServeTcp},
    {"pipe", "raw,json,protobuf", interop::ServeStdioPipe},
    {"rest", "json", interop::ServeRest},
    {"grpc", "protobuf", interop::ServeGrpc},
    {"grpc-stream", "protobuf", interop::ServeGrpc},  // one server answers both
    {"redis", "json,raw,protobuf", interop::ServeRedisQueue},
    {"redis-stream", "json,raw,protobuf", interop::ServeRedisStream},
    {"shm-spin", "raw,json,protobuf", interop::ServeShm},  // the wait mode is in the segment's header
    {"shm-futex", "raw,json,protobuf", interop::ServeShm},
    {"file-inotify", "json,raw,protobuf", interop::ServeFileHandoff},  // the wait mode is in the address
    {"file-poll", "json,raw,protobuf", interop::ServeFileHandoff},
};

bool Speaks(std::string_view codecs, std::string_view codec) {
  while (!codecs.empty()) {
    const auto comma = codecs.find(',');
    if (codecs.substr(0, comma) == codec) return true;
    codecs = comma == std::string_view::npos ? std::string_view() : codecs.substr(comma + 1);
  }
  return false;
}

int Usage(const char* why) {
  std::fprintf(stderr, "cpp_peer: %s\nusage: cpp_peer --transport=T --address=A [--codec=C] [--echo] [--fault=MODE] [--inflight=K] [--count-held] [--count-messages]\n"
               "transports:", why);
  for (const auto& s : kServers) std::fprintf(stderr, " %.*s", int(s.transport.size()), s.transport.data());
  std::fprintf(stderr, "\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);  // a vanished client is EPIPE on write, not death
  interop::PeerOptions options;
  std::string fault;
  std::string inflight;  // --inflight=K
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&](std::string_view key, std::string* out) {
      if (arg.rfind(key, 0) != 0) return false;
      *out = std::string(arg.substr(key.size()));
      return true;
    };
    if (value("--transport=", &options.transport) || value("--address=", &options.address) ||
        value("--codec=", &options.codec) || value("--fault=", &fault) || value("--inflight=", &inflight)) {
      continue;
    }
    if (arg == "--echo") {
      options.echo = true;
    } else if (arg == "--count-held") {
      options.count_held = true;
    } else if (arg == "--count-messages") {
      options.count_messages = true;
    } else if (arg == "--help" || arg == "-h") {
      Usage("the native C++ peer");
      return 0;
    } else {
      return Usage(("unknown option " + std::string(arg)).c_str());
    }
  }
  if (!inflight.empty()) {
    char* end = nullptr;
    const long k = std::strtol(inflight.c_str(), &end, 10);
    if (*end != '\0' || k < 1 || k > 1 << 20) return Usage(("--inflight=" + inflight + ": a count from 1").c_str());
    options.inflight = static_cast<int>(k);
  }
  if (const std::string bad = interop::ParsePeerFault(fault, &options.fault); !bad.empty()) return Usage(bad.c_str());
  if (options.echo && options.fault.SpoilsReplies()) {
    return Usage(("--fault=" + fault + " cannot be used with --echo: an echo is the request's own bytes, "
                  "with no result or id of the peer's to get wrong").c_str());
  }
  // A planted slowdown is of the peer's work; an echo does none, so the
  // floor it measures stays the floor (bench --peer-fault relies on this).
  if (options.echo && options.fault.SlowsWork()) {
    std::fprintf(stderr, "cpp_peer: --fault=%s is not applied with --echo (an echo does no work to slow)\n",
                 fault.c_str());
    options.fault = {};
  }
  for (const auto& s : kServers) {
    if (s.transport != options.transport) continue;
    if (options.codec.empty()) options.codec = s.codecs.substr(0, s.codecs.find(','));
    if (!Speaks(s.codecs, options.codec)) {
      return Usage(("transport " + options.transport + " does not support codec " + options.codec).c_str());
    }
    return s.serve(options);
  }
  return Usage(("unknown transport '" + options.transport + "'").c_str());
}
