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

// Each request is one file in the row's codec (json_transports.md): JSON,
// a raw frame or a protobuf message. In echo mode (the floor) the peer
// renames each request file to its reply name without reading it, and the
// client compares the contents. Bytes crossed: the files' contents.
class FileHandoffClient final : public Transport {
 public:
  FileHandoffClient(ClientMode mode, Codec codec)
      : echo_(mode == ClientMode::kEcho), codec_(codec), ext_(handoff::ExtensionOf(codec)) {}

  void Open(const PeerEndpoint& peer) override {
    address_ = handoff::ParseAddress(peer.address);
    watcher_.emplace(address_.dir, address_.poll);  // watching before the first request
  }

  void Call(const Request& r, Reply& reply) override {
    Publish(r);
    const std::string name = handoff::FileName("rep", r.id, ext_);
    if (!watcher_->WaitFor(name, aborted_)) throw TransportError("no reply file (row given up)");
    const std::string got = Take(name);
    if (echo_) CheckEcho(body_, got, r.id, reply);
    else codec_.Decode(got, r.op, reply);
  }

  // Calls in flight: every request file is published at once, and each
  // reply file is taken as its name appears, in whatever order the peer
  // answered. Poll mode lists the directory, which shows a reply again
  // until it is taken: `arrived` keeps each one queued once.
  void Send(const Request& r) override {
    Publish(r);
    InFlight& call = in_flight_[r.id];
    call = {r.op, echo_ ? body_ : std::string(), false};
  }

  void Receive(Reply& reply) override {
    while (arrived_.empty()) {
      for (const auto& name : watcher_->Next(100)) {
        const auto id = handoff::IdOf(name, "rep", ext_);
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
    const std::string got = Take(handoff::FileName("rep", id, ext_));
    if (echo_) CheckEcho(call.body, got, id, reply);
    else codec_.Decode(got, call.op, reply);
  }

  std::optional<WireBytes> Wire() const override { return wire_; }
  void Close() override { watcher_.reset(); }
  void Abort() override { aborted_ = true; }

 private:
  struct InFlight {
    Op op;
    std::string body;  // echo mode: what must come back
    bool arrived;      // queued in arrived_ already
  };

  void Publish(const Request& r) {
    codec_.Encode(r, {}, body_);
    handoff::Publish(address_.dir, "req", r.id, ext_, body_);
    wire_.sent += body_.size();
  }

  std::string Take(const std::string& name) {
    std::string got = handoff::TakeFile(address_.dir + "/" + name, handoff::MaxFileBytes(codec_.codec()));
    wire_.received += got.size();
    return got;
  }

  bool echo_;
  MessageCodec codec_;
  std::string_view ext_;
  std::unordered_map<uint64_t, InFlight> in_flight_;
  std::deque<uint64_t> arrived_;  // reply files seen and not yet taken, oldest first
  std::string body_;
  WireBytes wire_;
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
        return std::make_unique<FileHandoffClient>(mode, codec);
      },
      .too_large = [](const Request& message, Codec codec) { return MessageTooLarge(codec, message, /*framed=*/false); },
      .overlaps = "K request files in the directory at once, each reply file taken as it appears",
      .family = "file",
      .variant = variant,
      .codecs = {Codec::kJson, Codec::kRaw, Codec::kProtobuf},
      .bytes_counted = "the request and reply files' contents, as written and read",
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
