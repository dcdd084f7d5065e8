#include "transports/rest/rest_client.h"

#include <chrono>
#include <optional>
#include <thread>

#include "transports/echo/echo_check.h"
#include "transports/json/json_codec.h"
#include "transports/rest/http_client.h"
#include "transports/tcp/tcp_address.h"

namespace interop {
namespace {

const char* PathOf(Op op) { return op == Op::kAdd ? "/add" : "/score"; }

// One keep-alive connection for the whole row. In echo mode (the floor) the
// peer answers each POST with its body unchanged.
class RestClient final : public Transport {
 public:
  explicit RestClient(ClientMode mode) : echo_(mode == ClientMode::kEcho) {}

  void Open(const PeerEndpoint& peer) override {
    std::string host;
    int port = 0;
    ParseHostPort(peer.address, &host, &port);
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
    const HttpClient::Response res = client_->Post(PathOf(r.op), body_);
    if (res.status != 200) {
      reply.error = "HTTP " + std::to_string(res.status) + ": " + std::string(res.body.substr(0, 200));
    } else if (echo_) {
      CheckEcho(body_, res.body, r.id, reply);
    } else {
      decoder_.Decode(res.body, r.op, reply);
    }
  }

  void Close() override { client_.reset(); }
  void Abort() override {
    if (client_) client_->Abort();
  }

 private:
  bool echo_;
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
      .make_client = [](PeerKind, ClientMode mode) -> std::unique_ptr<Transport> {
        return std::make_unique<RestClient>(mode);
      },
      .http_request = [](const Request& r, std::string* path, std::string* body) {
        *path = PathOf(r.op);
        json_codec::EncodeRequest(r, /*include_op=*/false, {}, *body);
      },
  };
}

}  // namespace interop
