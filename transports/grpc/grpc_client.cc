#include "transports/grpc/grpc_client.h"

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "interop.grpc.pb.h"

namespace interop {
namespace {

namespace pb = ::interop::v1;

std::shared_ptr<grpc::Channel> Connect(const std::string& address) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    throw TransportError("gRPC channel to " + address + " did not connect within 10 s");
  }
  return channel;
}

void ToProto(const Request& r, pb::AddRequest* out) {
  out->set_id(r.id);
  out->set_x(r.x);
  out->set_y(r.y);
}

void ToProto(const Request& r, pb::ScoreRequest* out) {
  out->set_id(r.id);
  out->mutable_features()->Assign(r.features.begin(), r.features.end());
  out->set_model(std::string(r.model));
}

// A failed RPC: the peer is gone (throw) or it refused the call (error reply).
void OnStatus(const grpc::Status& status, Reply& reply) {
  if (status.ok()) return;
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::CANCELLED) {
    throw TransportError("gRPC call failed: " + status.error_message());
  }
  reply.error = "gRPC status " + std::to_string(status.error_code()) + ": " + status.error_message();
}

class GrpcUnaryClient final : public Transport {
 public:
  void Open(const PeerEndpoint& peer) override { stub_ = pb::Interop::NewStub(Connect(peer.address)); }

  void Call(const Request& r, Reply& reply) override {
    grpc::ClientContext ctx;
    reply.error.clear();
    if (r.op == Op::kAdd) {
      ToProto(r, &add_req_);
      OnStatus(stub_->Add(&ctx, add_req_, &add_rep_), reply);
      reply.id = add_rep_.id();
      reply.result = add_rep_.result();
    } else {
      ToProto(r, &score_req_);
      OnStatus(stub_->Score(&ctx, score_req_, &score_rep_), reply);
      reply.id = score_rep_.id();
      reply.score = score_rep_.score();
      reply.label = score_rep_.label();
    }
  }

  // K unary calls in flight on the one channel (gRPC's callback API).
  void CallPipelined(std::span<const Request> requests, std::span<Reply> replies) override {
    const std::size_t n = requests.size();
    std::vector<grpc::ClientContext> ctx(n);
    std::vector<grpc::Status> status(n);
    std::vector<pb::AddRequest> add_req(n);
    std::vector<pb::AddReply> add_rep(n);
    std::vector<pb::ScoreRequest> score_req(n);
    std::vector<pb::ScoreReply> score_rep(n);
    std::mutex mu;
    std::condition_variable cv;
    std::size_t done = 0;
    for (std::size_t i = 0; i < n; ++i) {
      auto finished = [&, i](grpc::Status s) {
        std::lock_guard<std::mutex> lock(mu);
        status[i] = std::move(s);
        if (++done == n) cv.notify_one();
      };
      if (requests[i].op == Op::kAdd) {
        ToProto(requests[i], &add_req[i]);
        stub_->async()->Add(&ctx[i], &add_req[i], &add_rep[i], finished);
      } else {
        ToProto(requests[i], &score_req[i]);
        stub_->async()->Score(&ctx[i], &score_req[i], &score_rep[i], finished);
      }
    }
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return done == n; });  // each call ends: reply, error or channel failure
    }
    for (std::size_t i = 0; i < n; ++i) {
      Reply& reply = replies[i];
      reply.error.clear();
      OnStatus(status[i], reply);
      if (requests[i].op == Op::kAdd) {
        reply.id = add_rep[i].id();
        reply.result = add_rep[i].result();
      } else {
        reply.id = score_rep[i].id();
        reply.score = score_rep[i].score();
        reply.label = score_rep[i].label();
      }
    }
  }

  void Close() override { stub_.reset(); }

 private:
  std::unique_ptr<pb::Interop::Stub> stub_;
  pb::AddRequest add_req_;
  pb::AddReply add_rep_;
  pb::ScoreRequest score_req_;
  pb::ScoreReply score_rep_;
};

class GrpcStreamClient final : public Transport {
 public:
  void Open(const PeerEndpoint& peer) override {
    stub_ = pb::Interop::NewStub(Connect(peer.address));
    ctx_ = std::make_unique<grpc::ClientContext>();
    stream_ = stub_->Stream(ctx_.get());
  }

  void Call(const Request& r, Reply& reply) override {
    Send(r);
    Receive(r.op, reply);
  }

  void CallPipelined(std::span<const Request> requests, std::span<Reply> replies) override {
    for (const auto& r : requests) Send(r);
    for (std::size_t i = 0; i < requests.size(); ++i) Receive(requests[i].op, replies[i]);
  }

  void Close() override {
    if (stream_) {
      stream_->WritesDone();
      ctx_->TryCancel();
      stream_->Finish();
    }
    stream_.reset();
    ctx_.reset();
    stub_.reset();
  }
  void Abort() override {
    if (ctx_) ctx_->TryCancel();
  }

 private:
  void Send(const Request& r) {
    request_.Clear();
    if (r.op == Op::kAdd) ToProto(r, request_.mutable_add());
    else ToProto(r, request_.mutable_score());
    if (!stream_->Write(request_)) throw TransportError("gRPC stream closed while writing");
  }

  void Receive(Op op, Reply& reply) {
    if (!stream_->Read(&reply_)) throw TransportError("gRPC stream closed while reading");
    reply.error.clear();
    reply.id = reply_.id();
    switch (reply_.result_case()) {
      case pb::Reply::kAdd:
        reply.result = reply_.add().result();
        break;
      case pb::Reply::kScore:
        reply.score = reply_.score().score();
        reply.label = reply_.score().label();
        break;
      case pb::Reply::kError:
        reply.error = "peer error: " + reply_.error();
        break;
      default:
        reply.error = "empty reply on the stream";
    }
    if (reply.error.empty() && (reply_.result_case() == pb::Reply::kAdd) != (op == Op::kAdd)) {
      reply.error = "reply of the wrong kind";
    }
  }

  std::unique_ptr<pb::Interop::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<pb::Request, pb::Reply>> stream_;
  pb::Request request_;
  pb::Reply reply_;
};

}  // namespace

TransportSpec GrpcTransport() {
  return {
      .name = "grpc",
      .tier = "5",
      .default_codec = "protobuf",
      .summary = "gRPC + protobuf on 127.0.0.1, one unary call per request (grpcio, ruby grpc, grpc++)",
      .wait_style = WaitStyle::kBlocking,
      .peer_uses_stdio = false,
      .listen_address = [](const AddressContext&) { return std::string("127.0.0.1:0"); },
      .make_client = [](PeerKind) -> std::unique_ptr<Transport> { return std::make_unique<GrpcUnaryClient>(); },
      // A minimal grpc++ sync ping-pong: one prebuilt request, no conversion,
      // the C++ peer in --echo mode answering without computing.
      .make_baseline = [](const PeerEndpoint& peer, const std::vector<uint8_t>&, const Request& sample,
                          const std::atomic<bool>&) {
        std::shared_ptr<pb::Interop::Stub> stub = pb::Interop::NewStub(Connect(peer.address));
        auto add = std::make_shared<pb::AddRequest>();
        auto score = std::make_shared<pb::ScoreRequest>();
        ToProto(sample, add.get());
        ToProto(sample, score.get());
        const bool is_add = sample.op == Op::kAdd;
        return std::function<bool()>([stub, add, score, is_add] {
          grpc::ClientContext ctx;
          if (is_add) {
            pb::AddReply rep;
            return stub->Add(&ctx, *add, &rep).ok();
          }
          pb::ScoreReply rep;
          return stub->Score(&ctx, *score, &rep).ok();
        });
      },
      .baseline_cpp_only = true,
  };
}

TransportSpec GrpcStreamTransport() {
  TransportSpec spec = GrpcTransport();
  spec.make_baseline = nullptr;  // the unary baseline is the grpc row's
  spec.name = "grpc-stream";
  spec.summary = "gRPC bidirectional stream: requests and replies on one long-lived stream";
  spec.make_client = [](PeerKind) -> std::unique_ptr<Transport> { return std::make_unique<GrpcStreamClient>(); };
  return spec;
}

}  // namespace interop
