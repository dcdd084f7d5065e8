#include "transports/grpc/grpc_server.h"

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "common/raw_frame.h"
#include "common/workload.h"
#include "interop.grpc.pb.h"
#include "transports/codec/protobuf_messages.h"
#include "transports/fault/peer_counts.h"
#include "transports/grpc/grpc_limits.h"
#include "transports/raw_stream/raw_stream_server.h"
#include "transports/stop_signals.h"

namespace interop {
namespace {

namespace pb = ::interop::v1;

// --fault's spoiling of a reply message (for the harness's tests).
void SpoilAdd(Spoil spoil, pb::AddReply* rep) {
  if (spoil == Spoil::kId) rep->set_id(rep->id() + 1);
  if (spoil == Spoil::kValue) rep->set_result(SpoilInt(rep->result()));
}
void SpoilScore(Spoil spoil, pb::ScoreReply* rep) {
  if (spoil == Spoil::kId) rep->set_id(rep->id() + 1);
  if (spoil == Spoil::kValue) rep->set_score(SpoilDouble(rep->score()));
}

using protobuf_codec::AnswerBatch;
using protobuf_codec::CheckBatch;
using protobuf_codec::CheckScore;
using protobuf_codec::Compute;

class InteropService final : public pb::Interop::Service {
 public:
  InteropService(const PeerFault& fault, bool count_held, bool count_messages)
      : fault_(fault), held_(count_held), messages_(count_messages) {}

 private:
  grpc::Status Add(grpc::ServerContext*, const pb::AddRequest* req, pb::AddReply* rep) override {
    const HeldCount::Hold hold(held_);  // --count-held: unary calls run on the server's threads at once
    const Spoil spoil = BeforeReply(fault_);
    rep->set_id(req->id());
    rep->set_result(interop::Add(req->x(), req->y()));
    SpoilAdd(spoil, rep);
    messages_.Answered(1);
    return grpc::Status::OK;
  }

  grpc::Status Score(grpc::ServerContext*, const pb::ScoreRequest* req, pb::ScoreReply* rep) override {
    const HeldCount::Hold hold(held_);
    const Spoil spoil = BeforeReply(fault_);
    if (const std::string bad = CheckScore(*req); !bad.empty()) {
      std::fprintf(stderr, "cpp peer: bad request (id %llu): %s\n", static_cast<unsigned long long>(req->id()), bad.c_str());
      return {grpc::StatusCode::INVALID_ARGUMENT, bad};
    }
    Compute(*req, rep);
    SpoilScore(spoil, rep);
    messages_.Answered(1);
    return grpc::Status::OK;
  }

  grpc::Status Batch(grpc::ServerContext*, const pb::BatchRequest* req, pb::BatchReply* rep) override {
    const HeldCount::Hold hold(held_);
    BeforeReply(fault_);
    if (const std::string bad = CheckBatch(*req); !bad.empty()) {
      std::fprintf(stderr, "cpp peer: bad batch (id %llu): %s\n", static_cast<unsigned long long>(req->id()), bad.c_str());
      return {grpc::StatusCode::INVALID_ARGUMENT, bad};
    }
    AnswerBatch(*req, rep);
    messages_.Answered(static_cast<std::size_t>(req->items_size()));
    return grpc::Status::OK;
  }

  grpc::Status Stream(grpc::ServerContext*, grpc::ServerReaderWriter<pb::Reply, pb::Request>* stream) override {
    if (held_.on()) return StreamCountingHeld(stream);
    pb::Request req;
    pb::Reply rep;
    while (stream->Read(&req)) {
      Answer(req, &rep);
      if (!stream->Write(rep)) break;
    }
    return grpc::Status::OK;
  }

  // One message of the stream.
  void Answer(const pb::Request& req, pb::Reply* rep) {
    const Spoil spoil = BeforeReply(fault_);
    rep->Clear();
    switch (req.op_case()) {
      case pb::Request::kAdd:
        rep->set_id(req.add().id());
        rep->mutable_add()->set_id(req.add().id());
        rep->mutable_add()->set_result(interop::Add(req.add().x(), req.add().y()));
        SpoilAdd(spoil, rep->mutable_add());
        if (spoil == Spoil::kId) rep->set_id(rep->id() + 1);
        break;
      case pb::Request::kScore:
        rep->set_id(req.score().id());
        if (const std::string bad = CheckScore(req.score()); !bad.empty()) {
          rep->set_error(bad);
        } else {
          Compute(req.score(), rep->mutable_score());
          SpoilScore(spoil, rep->mutable_score());
          if (spoil == Spoil::kId) rep->set_id(rep->id() + 1);
        }
        break;
      case pb::Request::kBatch:
        rep->set_id(req.batch().id());
        if (const std::string bad = CheckBatch(req.batch()); !bad.empty()) {
          rep->set_error(bad);
        } else {
          AnswerBatch(req.batch(), rep->mutable_batch());
          messages_.Answered(static_cast<std::size_t>(req.batch().items_size()));
          return;
        }
        break;
      default:
        rep->set_error("request carries neither add, score nor batch");
    }
    if (req.op_case() != pb::Request::kBatch) messages_.Answered(1);
  }

  // --count-held (tests only): a stream's messages wait in gRPC's buffers,
  // out of sight until read, so here the stream is read ahead on a second
  // thread (gRPC allows one reader and one writer at once) and a message is
  // held from when it is read to when its reply is written.
  grpc::Status StreamCountingHeld(grpc::ServerReaderWriter<pb::Reply, pb::Request>* stream) {
    std::mutex m;
    std::condition_variable cv;
    std::deque<pb::Request> read;
    std::size_t held = 0;
    bool ended = false;
    std::thread reader([&] {
      pb::Request req;
      while (stream->Read(&req)) {
        std::lock_guard lock(m);
        read.push_back(req);
        held_.Saw(++held);
        cv.notify_one();
      }
      std::lock_guard lock(m);
      ended = true;
      cv.notify_one();
    });
    pb::Reply rep;
    for (;;) {
      pb::Request req;
      {
        std::unique_lock lock(m);
        cv.wait(lock, [&] { return ended || !read.empty(); });
        if (read.empty()) break;
        req = std::move(read.front());
        read.pop_front();
      }
      Answer(req, &rep);
      {
        std::lock_guard lock(m);
        --held;  // its reply is on its way: the next request may come before Write returns
      }
      if (!stream->Write(rep)) break;
    }
    reader.join();  // Read() ends when the client closes its side or the call is cancelled
    return grpc::Status::OK;
  }

  const PeerFault& fault_;
  HeldCount held_;
  MessageCount messages_;
};

// --echo: the same three methods, served by the same synchronous server as
// the rows, with raw bytes in and out, so no protobuf is parsed: each
// message goes back as it came, sharing its slices (a ByteBuffer copy takes
// references). The handlers are registered as the generated code registers
// its own (grpc::Service::AddMethod), with ByteBuffer as the message type.
class EchoService final : public grpc::Service {
 public:
  // --fault: crash-after and hang-after count echoed messages too.
  explicit EchoService(const PeerFault& fault) : fault_(fault) {
    using grpc::ByteBuffer;
    using grpc::internal::RpcMethod;
    using grpc::internal::RpcServiceMethod;
    for (const char* method : {"/interop.v1.Interop/Add", "/interop.v1.Interop/Score", "/interop.v1.Interop/Batch"}) {
      AddMethod(new RpcServiceMethod(
          method, RpcMethod::NORMAL_RPC,
          new grpc::internal::RpcMethodHandler<EchoService, ByteBuffer, ByteBuffer>(
              [](EchoService* self, grpc::ServerContext*, const ByteBuffer* req, ByteBuffer* rep) {
                BeforeReply(self->fault_);
                *rep = *req;
                return grpc::Status::OK;
              },
              this)));
    }
    AddMethod(new RpcServiceMethod(
        "/interop.v1.Interop/Stream", RpcMethod::BIDI_STREAMING,
        new grpc::internal::BidiStreamingHandler<EchoService, ByteBuffer, ByteBuffer>(
            [](EchoService* self, grpc::ServerContext*, grpc::ServerReaderWriter<ByteBuffer, ByteBuffer>* stream) {
              ByteBuffer message;
              while (stream->Read(&message)) {
                BeforeReply(self->fault_);
                if (!stream->Write(message)) break;
              }
              return grpc::Status::OK;
            },
            this)));
  }

 private:
  const PeerFault& fault_;
};

}  // namespace

int ServeGrpc(const PeerOptions& options) {
  StopSignals stop;  // before gRPC starts its threads
  InteropService service(options.fault, options.count_held, options.count_messages);
  EchoService echo_service(options.fault);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(options.address, grpc::InsecureServerCredentials(), &port);
  if (options.echo) builder.RegisterService(&echo_service);
  else builder.RegisterService(&service);
  // MAX_GRPC_MESSAGE (interop.proto): a batch of up to 16 MiB and its framing.
  builder.SetMaxReceiveMessageSize(kMaxGrpcMessage);
  builder.SetMaxSendMessageSize(kMaxGrpcMessage);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) {
    std::fprintf(stderr, "cpp peer: cannot listen on %s\n", options.address.c_str());
    return 1;
  }
  const std::string host = options.address.substr(0, options.address.rfind(':'));
  AnnounceReady(host + ":" + std::to_string(port), options);
  stop.Wait();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  return 0;
}

}  // namespace interop
