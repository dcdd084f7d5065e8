#include "transports/file/file_server.h"

#include <dirent.h>

#include <cerrno>
#include <cstring>

#include <cstdio>

#include "transports/codec/codec.h"
#include "transports/codec/message_answer.h"
#include "transports/fault/peer_counts.h"
#include "transports/file/handoff_dir.h"
#include "transports/raw_stream/raw_stream_server.h"
#include "transports/stop_signals.h"
#include "transports/transport.h"

namespace interop {
namespace {

// --count-held (tests only): the request being answered (already taken from
// the directory) and the request files still waiting there.
std::size_t Held(const std::string& dir, std::string_view extension) {
  std::size_t held = 1;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) held += handoff::RequestId(e->d_name, extension).has_value();
    ::closedir(d);
  }
  return held;
}

// Answers one request file in the row's codec (json_transports.md): its
// reply file has the same id and extension.
void Answer(const std::string& dir, const std::string& name, Codec codec, const PeerOptions& options, HeldCount& held,
            MessageCount& count) {
  const std::string_view ext = handoff::ExtensionOf(codec);
  const auto id = handoff::RequestId(name, ext);
  if (!id) return;  // temporaries, replies, another codec's files: not ours to take
  const Spoil spoil = BeforeReply(options.fault);  // --fault, for the harness's tests
  if (options.echo) {  // --echo: the request becomes the reply, unread
    const std::string reply = dir + "/" + handoff::FileName("rep", *id, ext);
    if (::rename((dir + "/" + name).c_str(), reply.c_str()) != 0 && errno != ENOENT) {
      std::fprintf(stderr, "cpp peer: cannot rename %s: %s\n", name.c_str(), std::strerror(errno));
    }
    return;
  }
  std::string reply;
  try {
    // An unreadable message has no id of its own: the file name still says which it was.
    MessageAnswer answer =
        AnswerMessage(codec, handoff::TakeFile(dir + "/" + name, handoff::MaxFileBytes(codec)), *id);
    reply = std::move(answer.reply);
    count.Answered(answer.calls);
    if (codec == Codec::kJson) SpoilJsonReply(spoil, &reply);
    if (codec == Codec::kRaw) SpoilRawFrame(spoil, reinterpret_cast<uint8_t*>(reply.data()), reply.size());
    if (!answer.error.empty()) std::fprintf(stderr, "cpp peer: bad request in %s: %s\n", name.c_str(), answer.error.c_str());
  } catch (const TransportError& e) {
    if (std::string(e.what()).find("No such file") != std::string::npos) return;  // taken already
    std::fprintf(stderr, "cpp peer: %s\n", e.what());
    // Too large to take: answered as a message that could not be read.
    reply = AnswerMessage(codec, {}, *id).reply;
  }
  if (held.on()) held.Saw(Held(dir, ext));  // after the fault's delay: the harness has had that long to send more
  handoff::Publish(dir, "rep", *id, ext, reply);
}

}  // namespace

int ServeFileHandoff(const PeerOptions& options) {
  StopSignals stop;
  try {
    const handoff::Address address = handoff::ParseAddress(options.address);
    handoff::DirWatcher watcher(address.dir, address.poll);
    HeldCount held(options.count_held);
    MessageCount count(options.count_messages);
    const Codec codec = ParseCodec(options.codec).value_or(Codec::kJson);
    AnnounceReady(options.address, options);
    // Requests that arrived before the watch was set up.
    if (DIR* d = ::opendir(address.dir.c_str())) {
      std::vector<std::string> names;
      while (dirent* e = ::readdir(d)) names.emplace_back(e->d_name);
      ::closedir(d);
      for (const auto& n : names) Answer(address.dir, n, codec, options, held, count);
    }
    while (!stop.Pending()) {
      for (const auto& n : watcher.Next(100)) Answer(address.dir, n, codec, options, held, count);
    }
  } catch (const TransportError& e) {
    std::fprintf(stderr, "cpp peer: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace interop
