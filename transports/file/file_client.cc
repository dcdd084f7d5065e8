#include "transports/file/file_client.h"

#include <sys/stat.h>

#include <deque>
#include <unordered_map>

#include "common/temp_dir.h"
#include "transports/echo/echo_check.h"
#include "transports/file/handoff_dir.h"
#include "transports/codec/codec.h"
#include "transports/json/json_codec.h"

namespace interop {
namespace {

// In echo mode (the floor) the peer renames each request file to its reply
// name without reading it, and the client compares the contents.
class FileHandoffClient final : public Transport {
 public:
  explicit FileHandoffClient(ClientMode mode) : echo_(mode == ClientMode::kEcho) {}

  void Open(const PeerEndpoint& peer) override {
    address_ = handoff::ParseAddress(peer.address);
    watcher_.emplace(address_.dir, address_.poll);  // watching before the first request
  }

  void Call(const Request& r, Reply& reply) override {
    json_codec::EncodeRequest(r, /*include_op=*/true, {}, body_);
    handoff::Publish(address_.dir, "req", r.id, body_);
    const std::string name = "rep-" + std::to_string(r.id) + ".json";
    if (!watcher_->WaitFor(name, aborted_)) throw TransportError("no reply file (row given up)");
    const std::string got = handoff::TakeFile(address_.dir + "/" + name, json_codec::kMaxJsonBytes);
    if (echo_) CheckEcho(body_, got, r.id, reply);
    else decoder_.Decode(got, r.op, reply);
  }

  // Calls in flight: every request file is published at once, and each
  // reply file is taken as its name appears, in whatever order the peer
  // answered. Poll mode lists the directory, which shows a reply again
  // until it is taken: `arrived` keeps each one queued once.
  void Send(const Request& r) override {
    json_codec::EncodeRequest(r, /*include_op=*/true, {}, body_);
    handoff::Publish(address_.dir, "req", r.id, body_);
    InFlight& call = in_flight_[r.id];
    call = {r.op, echo_ ? body_ : std::string(), false};
  }

  void Receive(Reply& reply) override {
    while (arrived_.empty()) {
      for (const auto& name : watcher_->Next(100)) {
        const auto id = handoff::IdOf(name, "rep");
        if (!id) continue;
        const auto it = in_flight_.find(*id);
        if (it == in_flight_.end() || it->second.arrived) continue;
        it->second.arrived = true;
        arrived_.push_back(*id);
      }
      if (arrived_.empty() && aborted_) throw TransportError("no reply file (row given up)");
    }
    const uint64_t id = arrived_.front();
    arrived_.pop_front();
    const auto it = in_flight_.find(id);
    const InFlight call = std::move(it->second);
    in_flight_.erase(it);
    const std::string got =
        handoff::TakeFile(address_.dir + "/rep-" + std::to_string(id) + ".json", json_codec::kMaxJsonBytes);
    if (echo_) CheckEcho(call.body, got, id, reply);
    else decoder_.Decode(got, call.op, reply);
  }

  void Close() override { watcher_.reset(); }
  void Abort() override { aborted_ = true; }

 private:
  struct InFlight {
    Op op;
    std::string body;  // echo mode: what must come back
    bool arrived;      // queued in arrived_ already
  };

  bool echo_;
  std::unordered_map<uint64_t, InFlight> in_flight_;
  std::deque<uint64_t> arrived_;  // reply files seen and not yet taken, oldest first
  std::string body_;
  json_codec::ReplyDecoder decoder_;
  handoff::Address address_;
  std::optional<handoff::DirWatcher> watcher_;
  std::atomic<bool> aborted_{false};
};

// The handoff dir lives in the run's private dir; the holder removes it.
struct HandoffDir {
  std::string path;
  ~HandoffDir() { RemoveTree(path); }
};

TransportSpec FileSpec(std::string_view name, std::string_view variant) {
  return {
      .name = name,
      .tier = "7",
      .default_codec = "json",
      .summary = "",
      .wait_style = WaitStyle::kBlocking,
      .peer_uses_stdio = false,
      .listen_address = nullptr,
      .make_client = [](PeerKind, ClientMode mode, Codec codec) -> std::unique_ptr<Transport> {
        return std::make_unique<FileHandoffClient>(mode);
      },
      .too_large = [](const Request& message, Codec codec) { return MessageTooLarge(codec, message, /*framed=*/false); },
      .overlaps = "K request files in the directory at once, each reply file taken as it appears",
      .family = "file",
      .variant = variant,
  };
}

std::shared_ptr<void> Prepare(const AddressContext& where, bool poll, std::string* address) {
  auto dir = std::make_shared<HandoffDir>(HandoffDir{where.run_dir + "/" + where.tag + ".handoff"});
  if (::mkdir(dir->path.c_str(), 0700) != 0) throw TransportError("cannot create " + dir->path);
  *address = dir->path + (poll ? "?wait=poll" : "");
  return dir;
}

}  // namespace

TransportSpec FileInotifyTransport() {
  TransportSpec spec = FileSpec("file-inotify", "inotify");
  spec.summary = "file handoff in a private dir (write temp, rename), woken by inotify, JSON";
  spec.prepare = [](const AddressContext& where, std::string* address) { return Prepare(where, false, address); };
  return spec;
}

TransportSpec FilePollTransport() {
  TransportSpec spec = FileSpec("file-poll", "poll");
  spec.summary = "file handoff, each side lists the dir every 1 ms (the naive way), JSON";
  spec.prepare = [](const AddressContext& where, std::string* address) { return Prepare(where, true, address); };
  return spec;
}

}  // namespace interop
