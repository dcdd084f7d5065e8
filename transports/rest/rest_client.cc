#include "transports/rest/rest_client.h"

#include <httplib.h>

#include <chrono>
#include <thread>

#include "transports/json/json_codec.h"
#include "transports/tcp/tcp_address.h"

namespace interop {
namespace {

class RestClient final : public Transport {
 public:
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
    json_codec::DecodeReply(res->body, r.op, reply);
  }

  void Close() override { client_.reset(); }
  void Abort() override {
    if (client_) client_->stop();
  }

 private:
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
      .make_client = [](PeerKind) -> std::unique_ptr<Transport> { return std::make_unique<RestClient>(); },
      // A minimal cpp-httplib ping-pong: a fixed body POSTed on one keep-alive
      // connection, the C++ peer in --echo mode sending it straight back.
      .make_baseline = [](const PeerEndpoint& peer, const std::vector<uint8_t>&, const Request& sample,
                          const std::atomic<bool>&) {
        std::string host;
        int port = 0;
        ParseHostPort(peer.address, &host, &port);
        auto client = std::make_shared<httplib::Client>(host, port);
        client->set_keep_alive(true);
        client->set_tcp_nodelay(true);
        const std::string body = json_codec::EncodeRequest(sample, false);
        const char* path = sample.op == Op::kAdd ? "/add" : "/score";
        return std::function<bool()>([client, body, path] {
          auto res = client->Post(path, body, "application/json");
          return res && res->status == 200 && res->body.size() == body.size();
        });
      },
      .baseline_cpp_only = true,
  };
}

}  // namespace interop
