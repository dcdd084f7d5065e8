#include "transports/rest/rest_client.h"

#include <httplib.h>

#include <chrono>
#include <thread>

#include "transports/echo/echo_check.h"
#include "transports/json/json_codec.h"
#include "transports/tcp/tcp_address.h"

namespace interop {
namespace {

// In echo mode (the floor) the peer answers each POST with its body unchanged.
class RestClient final : public Transport {
 public:
  explicit RestClient(ClientMode mode) : echo_(mode == ClientMode::kEcho) {}

  void Open(const PeerEndpoint& peer) override {
    std::string host;
    int port = 0;
    ParseHostPort(peer.address, &host, &port);
    client_ = std::make_unique<httplib::Client>(host, port);
    client_->set_keep_alive(true);  // one connection for the whole row
    client_->set_tcp_nodelay(true);
    client_->set_connection_timeout(5);
    client_->set_read_timeout(60);
    // READY says the port is bound; /health says the app behind it answers.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      auto res = client_->Get("/health");
      if (res && res->status == 200) return;
      if (std::chrono::steady_clock::now() > deadline) {
        throw TransportError("GET /health did not answer 200 within 10 s" +
                             (res ? " (status " + std::to_string(res->status) + ")" : std::string()));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  void Call(const Request& r, Reply& reply) override {
    const std::string body = json_codec::EncodeRequest(r, /*include_op=*/false);
    auto res = client_->Post(r.op == Op::kAdd ? "/add" : "/score", body, "application/json");
    if (!res) throw TransportError("HTTP request failed: " + httplib::to_string(res.error()));
    if (res->status != 200) {
      reply.error = "HTTP " + std::to_string(res->status) + ": " + res->body.substr(0, 200);
      return;
    }
    if (echo_) {
      CheckEcho(body, res->body, r.id, reply);
    } else {
      json_codec::DecodeReply(res->body, r.op, reply);
    }
  }

  void Close() override { client_.reset(); }
  void Abort() override {
    if (client_) client_->stop();
  }

 private:
  bool echo_;
  std::unique_ptr<httplib::Client> client_;
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
      .make_client = [](PeerKind, ClientMode mode) -> std::unique_ptr<Transport> {
        return std::make_unique<RestClient>(mode);
      },
  };
}

}  // namespace interop
