#include "transports/rest/rest_client.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <atomic>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/fd_io.h"

#include "transports/echo/echo_check.h"
#include "transports/json/json_codec.h"
#include "transports/rest/http_client.h"
#include "transports/tcp/tcp_address.h"

namespace interop {
namespace {

const char* PathOf(const Request& r) {
  if (r.is_batch()) return "/batch";
  return r.op == Op::kAdd ? "/add" : "/score";
}

// One keep-alive connection for the row's calls one at a time (and K under
// load, below). In echo mode (the floor) the peer answers each POST with its
// body unchanged.
class RestClient final : public Transport {
 public:
  explicit RestClient(ClientMode mode) : echo_(mode == ClientMode::kEcho) {}
  ~RestClient() override { CloseFd(epoll_fd_); }

  void Open(const PeerEndpoint& peer) override {
    ParseHostPort(peer.address, &host_, &port_);
    const std::string& host = host_;
    const int port = port_;
    // READY says the port is bound; /health says the app behind it answers.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::string last;
    for (;;) {
      try {
        client_.emplace(host, port, json_codec::kMaxJsonBytes);
        const auto res = client_->Get("/health");
        if (res.status == 200) return;
        last = "status " + std::to_string(res.status);
      } catch (const TransportError& e) {
        last = e.what();
      }
      client_.reset();
      if (std::chrono::steady_clock::now() > deadline) {
        throw TransportError("GET /health did not answer 200 within 10 s (" + last + ")");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  void Call(const Request& r, Reply& reply) override {
    json_codec::EncodeRequest(r, /*include_op=*/false, {}, body_);
    const HttpClient::Response res = client_->Post(PathOf(r), body_);
    if (res.status != 200) {
      reply.error = "HTTP " + std::to_string(res.status) + ": " + std::string(res.body.substr(0, 200));
    } else if (echo_) {
      CheckEcho(body_, res.body, r.id, reply);
    } else {
      decoder_.Decode(res.body, r.op, reply);
    }
  }

  // K keep-alive connections under load, as wrk -cK keeps: each request
  // goes out on an idle one, and Receive() reads whichever response comes
  // first. (Not HTTP/1.1 pipelining: servers answer a pipelined connection
  // in order and often one at a time, and wrk does not pipeline either.)
  void BeforeInFlight(std::size_t k) override {
    if (echo_) return;  // floors time single calls
    std::lock_guard<std::mutex> lock(pool_mu_);
    while (pool_.size() < k) {  // connected now, not inside a timed call
      pool_.push_back(std::make_unique<HttpClient>(host_, port_, json_codec::kMaxJsonBytes));
      if (aborted_) pool_.back()->Abort();
    }
    idle_.clear();
    busy_.clear();
    ready_.clear();
    sent_id_.assign(pool_.size(), 0);
    registered_.resize(pool_.size(), -1);  // each repetition reuses the connections, watched already
    queued_.assign(pool_.size(), false);
    if (epoll_fd_ < 0 && (epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC)) < 0) {
      throw TransportError(ErrnoMessage("epoll_create1"));
    }
    for (std::size_t i = 0; i < pool_.size(); ++i) idle_.push_back(i);
  }

  void Send(const Request& r) override {
    if (echo_) return Transport::Send(r);
    if (idle_.empty()) throw TransportError("more calls in flight than connections (BeforeInFlight)");
    const std::size_t i = idle_.back();
    idle_.pop_back();
    json_codec::EncodeRequest(r, /*include_op=*/false, {}, body_);
    pool_[i]->StartPost(PathOf(r), body_);
    Watch(i);
    busy_.push_back(i);
    sent_id_[i] = r.id;
    op_ = r.op;  // one workload per row: every call in flight has this op
  }

  void Receive(Reply& reply) override {
    if (echo_) return Transport::Receive(reply);
    const std::size_t at = NextAnswered();
    const std::size_t i = busy_[at];
    busy_.erase(busy_.begin() + static_cast<std::ptrdiff_t>(at));
    idle_.push_back(i);
    if (queued_[i]) {
      ready_.erase(std::find(ready_.begin(), ready_.end(), i));
      queued_[i] = false;
    }
    const HttpClient::Response res = pool_[i]->FinishResponse();
    // A server that closed the connection (Puma does, now and then) leaves
    // the epoll set with its fd, and the next connection may get the very
    // same number: it must be added again, not taken as watched.
    if (pool_[i]->fd() < 0) registered_[i] = -1;
    if (res.status != 200) {
      reply.id = sent_id_[i];  // an error status answers the call sent on this connection
      reply.error = "HTTP " + std::to_string(res.status) + ": " + std::string(res.body.substr(0, 200));
    } else {
      decoder_.Decode(res.body, op_, reply);
    }
  }

  // Every connection's HTTP bytes: request heads and bodies, response heads
  // and bodies. (The /health polls before the first call are not in a
  // repetition's difference.)
  std::optional<WireBytes> Wire() const override {
    WireBytes w;
    if (client_) w = {client_->bytes_sent(), client_->bytes_received()};
    for (const auto& c : pool_) {
      w.sent += c->bytes_sent();
      w.received += c->bytes_received();
    }
    return w;
  }

  void Close() override {
    client_.reset();
    std::lock_guard<std::mutex> lock(pool_mu_);
    pool_.clear();
  }
  void Abort() override {
    aborted_ = true;
    if (client_) client_->Abort();
    std::lock_guard<std::mutex> lock(pool_mu_);
    for (auto& c : pool_) c->Abort();  // a poll or read on them returns now
  }

 private:
  // Connection i's socket in the epoll set (a reconnect gives it a new fd).
  void Watch(std::size_t i) {
    const int fd = pool_[i]->fd();
    if (registered_[i] == fd) return;
    if (registered_[i] >= 0) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, registered_[i], nullptr);  // may be closed already
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0 &&
        (errno != EEXIST || ::epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0)) {
      throw TransportError(ErrnoMessage("epoll_ctl"));
    }
    registered_[i] = fd;
  }

  // The busy connection whose response comes first (its index in busy_):
  // one with bytes of it buffered already, else one the sockets said is
  // readable. As wrk does, one epoll_wait can say several, and the next
  // Receive()s take them without asking the kernel again.
  std::size_t NextAnswered() {
    if (busy_.empty()) throw TransportError("Receive() with no call in flight");
    for (std::size_t at = 0; at < busy_.size(); ++at) {
      if (pool_[busy_[at]]->ReadyToFinish()) return at;
    }
    for (;;) {
      if (!ready_.empty()) {
        const auto it = std::find(busy_.begin(), busy_.end(), ready_.front());
        if (it != busy_.end()) return static_cast<std::size_t>(it - busy_.begin());
        // Not busy: an idle connection the server closed reads as ready for
        // ever (level-triggered). Out of the set until its next Send().
        const std::size_t idle = ready_.front();
        queued_[idle] = false;
        ready_.pop_front();
        if (registered_[idle] >= 0) ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, registered_[idle], nullptr);
        registered_[idle] = -1;
        continue;
      }
      epoll_event events[64];
      const int n = ::epoll_wait(epoll_fd_, events, 64, 250);  // short, so a given-up row returns
      if (aborted_) throw TransportError("no reply (row given up)");
      if (n < 0 && errno != EINTR) throw TransportError(ErrnoMessage("epoll_wait on the connections"));
      for (int e = 0; e < n; ++e) {  // a response, or an error FinishResponse() will say
        const auto i = static_cast<std::size_t>(events[e].data.u64);
        if (!queued_[i]) {
          queued_[i] = true;
          ready_.push_back(i);
        }
      }
    }
  }

  bool echo_;
  std::string host_;
  int port_ = 0;
  std::mutex pool_mu_;  // pool_ against Abort() from the watchdog's thread
  std::vector<std::unique_ptr<HttpClient>> pool_;  // under load: one connection per call in flight
  std::vector<std::size_t> idle_, busy_;           // indexes into pool_
  std::vector<uint64_t> sent_id_;                  // per connection: the id of its call in flight
  int epoll_fd_ = -1;                  // the pool's sockets, for the next readable one
  std::vector<int> registered_;        // per connection: its fd in the epoll set (-1: none)
  std::vector<bool> queued_;           // per connection: in ready_
  std::deque<std::size_t> ready_;      // connections said readable, not yet read
  Op op_ = Op::kAdd;
  std::atomic<bool> aborted_{false};
  std::optional<HttpClient> client_;
  std::string body_;
  json_codec::ReplyDecoder decoder_;
};

}  // namespace

TransportSpec RestTransport() {
  return {
      .name = "rest",
      .tier = "5",
      .default_codec = "json",
      .summary = "HTTP/1.1 + JSON on 127.0.0.1, keep-alive (FastAPI/uvicorn, Rack/Puma, cpp-httplib)",
      .wait_style = WaitStyle::kBlocking,
      .peer_uses_stdio = false,
      .listen_address = [](const AddressContext&) { return std::string("127.0.0.1:0"); },
      .make_client = [](PeerKind, ClientMode mode, Codec) -> std::unique_ptr<Transport> {
        return std::make_unique<RestClient>(mode);
      },
      .too_large = [](const Request& message, Codec) { return json_codec::TooLarge(message); },
      .http_request = [](const Request& r, std::string* path, std::string* body) {
        *path = PathOf(r);
        json_codec::EncodeRequest(r, /*include_op=*/false, {}, *body);
      },
      .overlaps = "K keep-alive connections, a call on each (as wrk -cK), responses taken as they come",
      .bytes_counted = "the HTTP/1.1 bytes on the client's connections: request line, headers and body out, "
                       "status line, headers and body in",
  };
}

}  // namespace interop
