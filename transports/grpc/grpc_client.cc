#include "transports/grpc/grpc_client.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/client_unary_call.h>  // BlockingUnaryCall, as the generated stub calls it

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>

#include "interop.grpc.pb.h"
#include "transports/echo/echo_check.h"

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

// A failed RPC: the peer is gone (throw) or it refused the call (error
// reply, false). True when the call succeeded.
bool OnStatus(const grpc::Status& status, Reply& reply) {
  if (status.ok()) return true;
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::CANCELLED) {
    throw TransportError("gRPC call failed: " + status.error_message());
  }
  reply.error = "gRPC status " + std::to_string(status.error_code()) + ": " + status.error_message();
  return false;
}

// The bytes of a received message, in one piece.
std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  out.reserve(buffer.Length());
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

constexpr const char* kAddMethod = "/interop.v1.Interop/Add";
constexpr const char* kScoreMethod = "/interop.v1.Interop/Score";
constexpr const char* kStreamMethod = "/interop.v1.Interop/Stream";

// In echo mode (the floor) it makes the same blocking unary call the
// generated stub makes (grpc::internal::BlockingUnaryCall, as the generated
// code calls it) with the serialized request as raw bytes, and the peer's
// echo service sends those bytes back: no protobuf is parsed on either side.
class GrpcUnaryClient final : public Transport {
 public:
  explicit GrpcUnaryClient(ClientMode mode) : echo_(mode == ClientMode::kEcho) {}

  void Open(const PeerEndpoint& peer) override {
    channel_ = Connect(peer.address);
    if (echo_) {
      add_method_.emplace(kAddMethod, grpc::internal::RpcMethod::NORMAL_RPC, channel_);
      score_method_.emplace(kScoreMethod, grpc::internal::RpcMethod::NORMAL_RPC, channel_);
    } else {
      stub_ = pb::Interop::NewStub(channel_);
    }
  }

  void Call(const Request& r, Reply& reply) override {
    grpc::ClientContext ctx;
    if (echo_) return CallEcho(ctx, r, reply);
    if (r.op == Op::kAdd) {
      ToProto(r, &add_req_);
      if (!OnStatus(stub_->Add(&ctx, add_req_, &add_rep_), reply)) return;
      reply.id = add_rep_.id();
      reply.result = add_rep_.result();
      reply.kind = ReplyKind::kAdd;
    } else {
      ToProto(r, &score_req_);
      if (!OnStatus(stub_->Score(&ctx, score_req_, &score_rep_), reply)) return;
      reply.id = score_rep_.id();
      reply.score = score_rep_.score();
      reply.label = score_rep_.label();
      reply.kind = ReplyKind::kScore;
    }
  }

  // K unary calls in flight on the one channel (gRPC's callback API).
  void CallPipelined(std::span<const Request> requests, std::span<Reply> replies) override {
    if (echo_) return Transport::CallPipelined(requests, replies);  // floors time single calls
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
      if (!OnStatus(status[i], reply)) continue;
      if (requests[i].op == Op::kAdd) {
        reply.id = add_rep[i].id();
        reply.result = add_rep[i].result();
        reply.kind = ReplyKind::kAdd;
      } else {
        reply.id = score_rep[i].id();
        reply.score = score_rep[i].score();
        reply.label = score_rep[i].label();
        reply.kind = ReplyKind::kScore;
      }
    }
  }

  void Close() override {
    stub_.reset();
    add_method_.reset();  // they hold tags registered on the channel
    score_method_.reset();
    channel_.reset();
  }

 private:
  void CallEcho(grpc::ClientContext& ctx, const Request& r, Reply& reply) {
    sent_.clear();
    if (r.op == Op::kAdd) {
      ToProto(r, &add_req_);
      add_req_.SerializeToString(&sent_);
    } else {
      ToProto(r, &score_req_);
      score_req_.SerializeToString(&sent_);
    }
    grpc::Slice slice(sent_);
    const grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    const grpc::Status status = grpc::internal::BlockingUnaryCall<grpc::ByteBuffer, grpc::ByteBuffer>(
        channel_.get(), r.op == Op::kAdd ? *add_method_ : *score_method_, &ctx, request, &response);
    if (OnStatus(status, reply)) CheckEcho(sent_, Flatten(response), r.id, reply);
  }

  bool echo_;
  std::shared_ptr<grpc::Channel> channel_;
  std::optional<grpc::internal::RpcMethod> add_method_, score_method_;
  std::string sent_;
  std::unique_ptr<pb::Interop::Stub> stub_;
  pb::AddRequest add_req_;
  pb::AddReply add_rep_;
  pb::ScoreRequest score_req_;
  pb::ScoreReply score_rep_;
};

// In echo mode (the floor) the stream carries raw bytes both ways, as the
// generated stub's stream would carry messages, and the peer's echo service
// writes each one back: no protobuf is parsed on either side.
class GrpcStreamClient final : public Transport {
 public:
  explicit GrpcStreamClient(ClientMode mode) : echo_(mode == ClientMode::kEcho) {}

  void Open(const PeerEndpoint& peer) override {
    channel_ = Connect(peer.address);
    ctx_ = std::make_unique<grpc::ClientContext>();
    if (echo_) {
      const grpc::internal::RpcMethod method(kStreamMethod, grpc::internal::RpcMethod::BIDI_STREAMING);
      raw_stream_.reset(grpc::internal::ClientReaderWriterFactory<grpc::ByteBuffer, grpc::ByteBuffer>::Create(
          channel_.get(), method, ctx_.get()));
    } else {
      stub_ = pb::Interop::NewStub(channel_);
      stream_ = stub_->Stream(ctx_.get());
    }
  }

  void Call(const Request& r, Reply& reply) override {
    if (echo_) return CallEcho(r, reply);
    Send(r);
    Receive(reply);
  }

  void CallPipelined(std::span<const Request> requests, std::span<Reply> replies) override {
    if (echo_) return Transport::CallPipelined(requests, replies);  // floors time single calls
    for (const auto& r : requests) Send(r);
    for (std::size_t i = 0; i < requests.size(); ++i) Receive(replies[i]);
  }

  void Close() override {
    auto finish = [this](auto& stream) {
      if (!stream) return;
      stream->WritesDone();
      ctx_->TryCancel();
      stream->Finish();
      stream.reset();
    };
    finish(stream_);
    finish(raw_stream_);
    ctx_.reset();
    stub_.reset();
    channel_.reset();
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

  void Receive(Reply& reply) {
    if (!stream_->Read(&reply_)) throw TransportError("gRPC stream closed while reading");
    reply.id = reply_.id();
    switch (reply_.result_case()) {
      case pb::Reply::kAdd:
        reply.result = reply_.add().result();
        reply.kind = ReplyKind::kAdd;
        break;
      case pb::Reply::kScore:
        reply.score = reply_.score().score();
        reply.label = reply_.score().label();
        reply.kind = ReplyKind::kScore;
        break;
      case pb::Reply::kError:
        reply.error = "peer error: " + reply_.error();
        break;
      default:
        reply.error = "empty reply on the stream";
    }
  }

  void CallEcho(const Request& r, Reply& reply) {
    request_.Clear();
    if (r.op == Op::kAdd) ToProto(r, request_.mutable_add());
    else ToProto(r, request_.mutable_score());
    sent_.clear();
    request_.SerializeToString(&sent_);
    grpc::Slice slice(sent_);
    if (!raw_stream_->Write(grpc::ByteBuffer(&slice, 1))) throw TransportError("gRPC stream closed while writing");
    grpc::ByteBuffer echoed;
    if (!raw_stream_->Read(&echoed)) throw TransportError("gRPC stream closed while reading");
    CheckEcho(sent_, Flatten(echoed), r.id, reply);
  }

  bool echo_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::Interop::Stub> stub_;
  std::unique_ptr<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<pb::Request, pb::Reply>> stream_;
  std::unique_ptr<grpc::ClientReaderWriter<grpc::ByteBuffer, grpc::ByteBuffer>> raw_stream_;
  std::string sent_;
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
      .make_client = [](PeerKind, ClientMode mode) -> std::unique_ptr<Transport> {
        return std::make_unique<GrpcUnaryClient>(mode);
      },
  };
}

TransportSpec GrpcStreamTransport() {
  TransportSpec spec = GrpcTransport();
  spec.name = "grpc-stream";
  spec.summary = "gRPC bidirectional stream: requests and replies on one long-lived stream";
  spec.make_client = [](PeerKind, ClientMode mode) -> std::unique_ptr<Transport> {
    return std::make_unique<GrpcStreamClient>(mode);
  };
  return spec;
}

}  // namespace interop
