#include "transports/file/file_server.h"

#include <dirent.h>

#include <cerrno>
#include <cstring>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "transports/fault/peer_counts.h"
#include "transports/file/handoff_dir.h"
#include "transports/json/json_codec.h"
#include "transports/raw_stream/raw_stream_server.h"
#include "transports/stop_signals.h"
#include "transports/transport.h"

namespace interop {
namespace {

// --count-held (tests only): the request being answered (already taken from
// the directory) and the request files still waiting there.
std::size_t Held(const std::string& dir) {
  std::size_t held = 1;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) held += handoff::RequestId(e->d_name).has_value();
    ::closedir(d);
  }
  return held;
}

void Answer(const std::string& dir, const std::string& name, bool echo, const PeerFault& fault, HeldCount& held,
            MessageCount& count) {
  const auto id = handoff::RequestId(name);
  if (!id) return;  // temporaries, replies, anything else: not ours to take
  const Spoil spoil = BeforeReply(fault);  // --fault, for the harness's tests
  if (echo) {  // --echo: the request becomes the reply, unread
    const std::string reply = dir + "/rep-" + std::to_string(*id) + ".json";
    if (::rename((dir + "/" + name).c_str(), reply.c_str()) != 0 && errno != ENOENT) {
      std::fprintf(stderr, "cpp peer: cannot rename %s: %s\n", name.c_str(), std::strerror(errno));
    }
    return;
  }
  std::string reply;
  try {
    // An unreadable body has no id of its own: the file name still says which it was.
    const auto answer = json_codec::AnswerRequest(handoff::TakeFile(dir + "/" + name, json_codec::kMaxJsonBytes),
                                                  std::nullopt, nullptr, id);
    reply = answer.body;
    if (count.on()) count.Answered(json_codec::CallsIn(reply));
    SpoilJsonReply(spoil, &reply);
    if (answer.http_status != 200) std::fprintf(stderr, "cpp peer: bad request in %s: %s\n", name.c_str(), reply.c_str());
  } catch (const TransportError& e) {
    if (std::string(e.what()).find("No such file") != std::string::npos) return;  // taken already
    reply = nlohmann::json{{"id", *id}, {"error", e.what()}}.dump();
    std::fprintf(stderr, "cpp peer: %s\n", e.what());
  }
  if (held.on()) held.Saw(Held(dir));  // after the fault's delay: the harness has had that long to send more
  handoff::Publish(dir, "rep", *id, reply);
}

}  // namespace

int ServeFileHandoff(const PeerOptions& options) {
  StopSignals stop;
  try {
    const handoff::Address address = handoff::ParseAddress(options.address);
    handoff::DirWatcher watcher(address.dir, address.poll);
    HeldCount held(options.count_held);
    MessageCount count(options.count_messages);
    AnnounceReady(options.address, options);
    // Requests that arrived before the watch was set up.
    if (DIR* d = ::opendir(address.dir.c_str())) {
      std::vector<std::string> names;
      while (dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
      ::closedir(d);
      for (const auto& n : names) Answer(address.dir, n, options.echo, options.fault, held, count);
    }
    while (!stop.Pending()) {
      for (const auto& n : watcher.Next(100)) Answer(address.dir, n, options.echo, options.fault, held, count);
    }
  } catch (const TransportError& e) {
    std::fprintf(stderr, "cpp peer: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace interop
