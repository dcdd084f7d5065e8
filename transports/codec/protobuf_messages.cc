#include "transports/codec/protobuf_messages.h"

#include "common/raw_frame.h"
#include "common/workload.h"

namespace interop::protobuf_codec {

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

namespace {

// A batch item: one call as a stream's Request, its ids left 0.
void ToProtoItem(const Request& r, pb::Request* out) {
  if (r.op == Op::kAdd) {
    pb::AddRequest* add = out->mutable_add();
    add->set_x(r.x);
    add->set_y(r.y);
  } else {
    pb::ScoreRequest* score = out->mutable_score();
    score->mutable_features()->Assign(r.features.begin(), r.features.end());
    score->set_model(std::string(r.model));
  }
}

}  // namespace

void Compute(const pb::ScoreRequest& r, pb::ScoreReply* out) {
  const ScoreResult s = Score({r.features().data(), static_cast<std::size_t>(r.features_size())});
  out->set_id(r.id());
  out->set_score(s.score);
  out->set_label(std::string(s.label));
}

void ToProto(const Request& r, pb::BatchRequest* out) {
  out->Clear();
  out->set_id(r.id);
  out->mutable_items()->Reserve(static_cast<int>(r.items.size()));
  for (const Request& item : r.items) ToProtoItem(item, out->add_items());
}

void ToProto(const Request& r, pb::Request* out) {
  out->Clear();
  if (r.is_batch()) ToProto(r, out->mutable_batch());
  else if (r.op == Op::kAdd) ToProto(r, out->mutable_add());
  else ToProto(r, out->mutable_score());
}

void FromProto(const pb::Reply& in, Reply& out) {
  out.id = in.id();
  switch (in.result_case()) {
    case pb::Reply::kAdd:
      out.result = in.add().result();
      out.kind = ReplyKind::kAdd;
      break;
    case pb::Reply::kScore:
      out.score = in.score().score();
      out.label = in.score().label();
      out.kind = ReplyKind::kScore;
      break;
    case pb::Reply::kError:
      out.error = "peer error: " + in.error();
      break;
    case pb::Reply::kBatch:
      FromProto(in.batch(), out);
      break;
    default:
      out.error = "an empty reply message";
  }
}

void FromProto(const pb::BatchReply& in, Reply& out) {
  out.id = in.id();
  out.kind = ReplyKind::kBatch;
  out.items.reserve(static_cast<std::size_t>(in.items_size()));
  for (const pb::Reply& item : in.items()) {
    Reply& r = out.AddItem();
    FromProto(item, r);
    if (r.kind == ReplyKind::kBatch) {
      r.items.clear();
      r.kind = ReplyKind::kNone;
      r.error = "a batch inside a batch reply";
    }
  }
}

std::string CheckScore(const pb::ScoreRequest& r) {
  if (static_cast<uint32_t>(r.features_size()) > raw::kMaxFeatures) return "more than 131072 features";
  if (r.model().size() > raw::kMaxModelBytes) return "model name longer than 1024 bytes";
  if (!raw::IsValidUtf8(r.model())) return "model name is not valid UTF-8";
  return {};
}

std::string CheckBatch(const pb::BatchRequest& b) {
  if (b.items_size() < 1 || static_cast<uint32_t>(b.items_size()) > raw::kMaxBatchItems) {
    return "a batch holds 1 to 100000 items, not " + std::to_string(b.items_size());
  }
  return {};
}

void AnswerCall(const pb::Request& req, pb::Reply* rep) {
  switch (req.op_case()) {
    case pb::Request::kAdd:
      rep->mutable_add()->set_id(req.add().id());
      rep->mutable_add()->set_result(interop::Add(req.add().x(), req.add().y()));
      break;
    case pb::Request::kScore:
      if (const std::string bad = CheckScore(req.score()); !bad.empty()) rep->set_error(bad);
      else Compute(req.score(), rep->mutable_score());
      break;
    default:
      rep->set_error("an item carries neither add nor score");
  }
}

void AnswerBatch(const pb::BatchRequest& req, pb::BatchReply* rep) {
  rep->set_id(req.id());
  rep->mutable_items()->Reserve(req.items_size());
  for (const pb::Request& item : req.items()) AnswerCall(item, rep->add_items());
}

std::size_t AnswerMessage(std::string_view request, uint64_t fallback_id, std::string* out, bool* parsed) {
  pb::Request req;
  pb::Reply rep;
  std::size_t calls = 0;
  const bool ok =
      request.size() <= raw::kMaxBatchPayload && req.ParseFromArray(request.data(), static_cast<int>(request.size()));
  if (parsed) *parsed = ok;
  if (!ok) {
    rep.set_id(fallback_id);
    rep.set_error("not a protobuf interop.v1.Request (or above 16 MiB)");
  } else if (req.op_case() == pb::Request::kBatch) {
    rep.set_id(req.batch().id());
    if (const std::string bad = CheckBatch(req.batch()); !bad.empty()) {
      rep.set_error(bad);
    } else {
      AnswerBatch(req.batch(), rep.mutable_batch());
      calls = static_cast<std::size_t>(req.batch().items_size());
    }
  } else {
    rep.set_id(req.op_case() == pb::Request::kAdd ? req.add().id()
               : req.op_case() == pb::Request::kScore ? req.score().id()
                                                      : fallback_id);
    AnswerCall(req, &rep);
    calls = rep.result_case() == pb::Reply::kError ? 0 : 1;
  }
  rep.SerializeToString(out);
  return calls;
}

}  // namespace interop::protobuf_codec
