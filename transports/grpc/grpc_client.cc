#include "transports/grpc/grpc_client.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/client_unary_call.h>  // BlockingUnaryCall, as the generated stub calls it

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>

#include "interop.grpc.pb.h"
#include "transports/codec/codec.h"
#include "transports/codec/protobuf_messages.h"
#include "common/raw_frame.h"
#include "transports/echo/echo_check.h"
#include "transports/grpc/grpc_limits.h"
#include "transports/tcp/tcp_address.h"
#include "transports/tcp/tcp_bytes.h"

namespace interop {
namespace {

namespace pb = ::interop::v1;

// The peer's port, to find the channel's socket by (tcp_bytes).
int PortOf(const std::string& address) {
  std::string host;
  int port = 0;
  ParseHostPort(address, &host, &port);
  return port;
}

std::shared_ptr<grpc::Channel> Connect(const std::string& address) {
  grpc::ChannelArguments args;  // MAX_GRPC_MESSAGE each way: a batch of up to 16 MiB
  args.SetMaxReceiveMessageSize(kMaxGrpcMessage);
  args.SetMaxSendMessageSize(kMaxGrpcMessage);
  auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    throw TransportError("gRPC channel to " + address + " did not connect within 10 s");
  }
  return channel;
}

using protobuf_codec::FromProto;
using protobuf_codec::ToProto;

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
constexpr const char* kBatchMethod = "/interop.v1.Interop/Batch";
constexpr const char* kStreamMethod = "/interop.v1.Interop/Stream";

// In echo mode (the floor) it makes the same blocking unary call the
// generated stub makes (grpc::internal::BlockingUnaryCall, as the generated
// code calls it) with the serialized request as raw bytes, and the peer's
// echo service sends those bytes back: no protobuf is parsed on either side.
class GrpcUnaryClient final : public Transport {
 public:
  explicit GrpcUnaryClient(ClientMode mode) : echo_(mode == ClientMode::kEcho) {}
  ~GrpcUnaryClient() override { Close(); }

  void Open(const PeerEndpoint& peer) override {
    channel_ = Connect(peer.address);
    port_ = PortOf(peer.address);
    if (echo_) {
      add_method_.emplace(kAddMethod, grpc::internal::RpcMethod::NORMAL_RPC, channel_);
      score_method_.emplace(kScoreMethod, grpc::internal::RpcMethod::NORMAL_RPC, channel_);
      batch_method_.emplace(kBatchMethod, grpc::internal::RpcMethod::NORMAL_RPC, channel_);
    } else {
      stub_ = pb::Interop::NewStub(channel_);
    }
  }

  void Call(const Request& r, Reply& reply) override {
    grpc::ClientContext ctx;
    if (echo_) return CallEcho(ctx, r, reply);
    if (r.is_batch()) {
      ToProto(r, &batch_req_);
      if (OnStatus(stub_->Batch(&ctx, batch_req_, &batch_rep_), reply)) FromProto(batch_rep_, reply);
    } else if (r.op == Op::kAdd) {
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

  // K unary calls outstanding on the one channel (gRPC's callback API):
  // Send() starts one, its callback queues it when it finishes (reply,
  // error or channel failure), Receive() takes them in the order they finish.
  void Send(const Request& r) override {
    if (echo_) return Transport::Send(r);  // floors time single calls
    auto owned = std::make_unique<UnaryCall>();
    UnaryCall* call = owned.get();
    call->op = r.op;
    call->batch = r.is_batch();
    call->id = r.id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.emplace(call, std::move(owned));
      ++running_;
    }
    auto finished = [this, call](grpc::Status status) {
      std::lock_guard<std::mutex> lock(mu_);
      call->status = std::move(status);
      finished_.push_back(call);
      --running_;
      cv_.notify_all();
    };
    if (call->batch) {
      ToProto(r, &call->batch_req);
      stub_->async()->Batch(&call->ctx, &call->batch_req, &call->batch_rep, finished);
    } else if (r.op == Op::kAdd) {
      ToProto(r, &call->add_req);
      stub_->async()->Add(&call->ctx, &call->add_req, &call->add_rep, finished);
    } else {
      ToProto(r, &call->score_req);
      stub_->async()->Score(&call->ctx, &call->score_req, &call->score_rep, finished);
    }
  }

  void Receive(Reply& reply) override {
    if (echo_) return Transport::Receive(reply);
    std::unique_ptr<UnaryCall> call;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return !finished_.empty() || aborted_; });
      if (finished_.empty()) throw TransportError("no reply (row given up)");
      const auto it = calls_.find(finished_.front());
      finished_.pop_front();
      call = std::move(it->second);
      calls_.erase(it);
    }
    if (!OnStatus(call->status, reply)) {
      reply.id = call->id;  // a refused call is still this call's answer: the runner matches it by id
      return;
    }
    if (call->batch) {
      FromProto(call->batch_rep, reply);
    } else if (call->op == Op::kAdd) {
      reply.id = call->add_rep.id();
      reply.result = call->add_rep.result();
      reply.kind = ReplyKind::kAdd;
    } else {
      reply.id = call->score_rep.id();
      reply.score = call->score_rep.score();
      reply.label = call->score_rep.label();
      reply.kind = ReplyKind::kScore;
    }
  }

  // gRPC's own bytes on the channel's connection, as the kernel counted them.
  std::optional<WireBytes> Wire() const override { return TcpBytesTo(port_); }

  void Abort() override {
    std::lock_guard<std::mutex> lock(mu_);
    aborted_ = true;
    for (auto& [call, owned] : calls_) owned->ctx.TryCancel();
    cv_.notify_all();
  }

  void Close() override {
    {
      // A call still running holds its context: cancel it and wait for its
      // callback (the channel guarantees one) before anything is freed.
      std::unique_lock<std::mutex> lock(mu_);
      for (auto& [call, owned] : calls_) owned->ctx.TryCancel();
      cv_.wait(lock, [&] { return running_ == 0; });
      calls_.clear();
      finished_.clear();
    }
    stub_.reset();
    add_method_.reset();  // they hold tags registered on the channel
    score_method_.reset();
    batch_method_.reset();
    channel_.reset();
  }

 private:
  void CallEcho(grpc::ClientContext& ctx, const Request& r, Reply& reply) {
    sent_.clear();
    if (r.is_batch()) {
      ToProto(r, &batch_req_);
      batch_req_.SerializeToString(&sent_);
    } else if (r.op == Op::kAdd) {
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
        channel_.get(), r.is_batch() ? *batch_method_ : r.op == Op::kAdd ? *add_method_ : *score_method_, &ctx, request,
        &response);
    if (OnStatus(status, reply)) CheckEcho(sent_, Flatten(response), r.id, reply);
  }

  // One unary call in flight under load, with everything it points at.
  struct UnaryCall {
    Op op = Op::kAdd;
    bool batch = false;
    uint64_t id = 0;  // the request's
    grpc::ClientContext ctx;
    grpc::Status status;
    pb::AddRequest add_req;
    pb::AddReply add_rep;
    pb::ScoreRequest score_req;
    pb::ScoreReply score_rep;
    pb::BatchRequest batch_req;
    pb::BatchReply batch_rep;
  };

  bool echo_;
  int port_ = 0;
  std::mutex mu_;  // guards what the callbacks touch: the four below
  std::condition_variable cv_;
  std::map<UnaryCall*, std::unique_ptr<UnaryCall>> calls_;  // sent and not yet received
  std::deque<UnaryCall*> finished_;                          // of those, the finished ones, in order
  std::size_t running_ = 0;                                  // of those, the unfinished ones
  bool aborted_ = false;
  std::shared_ptr<grpc::Channel> channel_;
  std::optional<grpc::internal::RpcMethod> add_method_, score_method_, batch_method_;
  std::string sent_;
  std::unique_ptr<pb::Interop::Stub> stub_;
  pb::AddRequest add_req_;
  pb::AddReply add_rep_;
  pb::ScoreRequest score_req_;
  pb::ScoreReply score_rep_;
  pb::BatchRequest batch_req_;
  pb::BatchReply batch_rep_;
};

// In echo mode (the floor) the stream carries raw bytes both ways, as the
// generated stub's stream would carry messages, and the peer's echo service
// writes each one back: no protobuf is parsed on either side.
class GrpcStreamClient final : public Transport {
 public:
  explicit GrpcStreamClient(ClientMode mode) : echo_(mode == ClientMode::kEcho) {}

  void Open(const PeerEndpoint& peer) override {
    channel_ = Connect(peer.address);
    port_ = PortOf(peer.address);
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
    Write(r);
    Read(reply);
  }

  // K messages in flight on the stream: a write each, the replies read as they come.
  void Send(const Request& r) override {
    if (echo_) return Transport::Send(r);  // floors time single calls
    Write(r);
  }
  void Receive(Reply& reply) override {
    if (echo_) return Transport::Receive(reply);
    Read(reply);
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
  std::optional<WireBytes> Wire() const override { return TcpBytesTo(port_); }
  void Abort() override {
    if (ctx_) ctx_->TryCancel();
  }

 private:
  void Write(const Request& r) {
    ToProto(r, &request_);
    if (!stream_->Write(request_)) throw TransportError("gRPC stream closed while writing");
  }

  void Read(Reply& reply) {
    if (!stream_->Read(&reply_)) throw TransportError("gRPC stream closed while reading");
    FromProto(reply_, reply);
  }

  void CallEcho(const Request& r, Reply& reply) {
    ToProto(r, &request_);
    sent_.clear();
    request_.SerializeToString(&sent_);
    grpc::Slice slice(sent_);
    if (!raw_stream_->Write(grpc::ByteBuffer(&slice, 1))) throw TransportError("gRPC stream closed while writing");
    grpc::ByteBuffer echoed;
    if (!raw_stream_->Read(&echoed)) throw TransportError("gRPC stream closed while reading");
    CheckEcho(sent_, Flatten(echoed), r.id, reply);
  }

  bool echo_;
  int port_ = 0;
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
      .make_client = [](PeerKind, ClientMode mode, Codec) -> std::unique_ptr<Transport> {
        return std::make_unique<GrpcUnaryClient>(mode);
      },
      // A message above MAX_BATCH_PAYLOAD (the channel takes MAX_GRPC_MESSAGE, its framing included).
      .too_large = [](const Request& message, Codec) {
        return MessageTooLarge(Codec::kProtobuf, message, /*framed=*/false);
      },
      .overlaps = "K unary calls outstanding on the one channel (the callback API)",
      .bytes_counted = "the kernel's count of the bytes on the channel's TCP connection (tcp_info bytes_acked out, "
                       "bytes_received in, from sock_diag): HTTP/2 frames, HPACK headers, flow control and pings",
  };
}

TransportSpec GrpcStreamTransport() {
  TransportSpec spec = GrpcTransport();
  spec.name = "grpc-stream";
  spec.summary = "gRPC bidirectional stream: requests and replies on one long-lived stream";
  spec.make_client = [](PeerKind, ClientMode mode, Codec) -> std::unique_ptr<Transport> {
    return std::make_unique<GrpcStreamClient>(mode);
  };
  spec.overlaps = "K messages in flight on the one bidirectional stream";
  return spec;
}

}  // namespace interop
