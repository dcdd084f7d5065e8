#include "transports/json/json_codec.h"

#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/raw_frame.h"
#include "common/workload.h"

namespace interop::json_codec {

using nlohmann::json;

std::string EncodeRequest(const Request& r, bool include_op, std::string_view reply_to) {
  json j;
  j["id"] = r.id;
  if (r.op == Op::kAdd) {
    if (include_op) j["op"] = "add";
    j["x"] = r.x;
    j["y"] = r.y;
  } else {
    if (include_op) j["op"] = "score";
    j["features"] = r.features;
    j["model"] = r.model;
  }
  if (!reply_to.empty()) j["reply_to"] = reply_to;
  return j.dump();
}

void DecodeReply(std::string_view text, Op op, Reply& reply) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    reply.error = "reply is not a JSON object: " + std::string(text.substr(0, 200));
    return;
  }
  if (auto e = j.find("error"); e != j.end()) {
    reply.error = "peer error: " + (e->is_string() ? e->get<std::string>() : e->dump());
    return;
  }
  const auto id = j.find("id");
  if (id == j.end() || !id->is_number_unsigned()) {
    reply.error = "reply has no id";
    return;
  }
  reply.id = id->get<uint64_t>();
  if (op == Op::kAdd) {
    const auto r = j.find("result");
    // nlohmann keeps integers above INT64_MAX unsigned: a peer that forgot to
    // wrap must not have its answer wrapped here and pass.
    if (r == j.end() || !r->is_number_integer() ||
        (r->is_number_unsigned() && r->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))) {
      reply.error = "add reply has no int64 result";
      return;
    }
    reply.result = r->get<int64_t>();
    reply.kind = ReplyKind::kAdd;
  } else {
    const auto s = j.find("score");
    const auto l = j.find("label");
    if (s == j.end() || !s->is_number() || l == j.end() || !l->is_string()) {
      reply.error = "score reply lacks score or label";
      return;
    }
    reply.score = s->get<double>();
    reply.label = l->get<std::string>();
    reply.kind = ReplyKind::kScore;
  }
}

namespace {

Answer Error(int status, const json& id, const std::string& message) {
  json j;
  j["id"] = id;
  j["error"] = message;
  return {status, j.dump()};
}

// An int64 field: a JSON integer within range (nlohmann keeps big positives unsigned).
bool GetInt64(const json& j, const char* key, int64_t* out) {
  const auto it = j.find(key);
  if (it == j.end()) return false;
  if (it->is_number_unsigned()) {
    const uint64_t u = it->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return false;
    *out = static_cast<int64_t>(u);
    return true;
  }
  if (!it->is_number_integer()) return false;
  *out = it->get<int64_t>();
  return true;
}

}  // namespace

Answer AnswerRequest(std::string_view body, std::optional<Op> op, std::string* reply_to,
                     std::optional<uint64_t> fallback_id) {
  const json no_id = fallback_id ? json(*fallback_id) : json(nullptr);
  if (body.size() > kMaxJsonBytes) return Error(413, no_id, "body larger than 4 MiB");
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Error(400, no_id, "body is not a JSON object");
  json id = nullptr;
  if (auto it = j.find("id"); it != j.end() && it->is_number_unsigned()) id = *it;
  if (reply_to) {
    if (auto it = j.find("reply_to"); it != j.end() && it->is_string()) *reply_to = it->get<std::string>();
  }
  if (id.is_null()) return Error(400, no_id, "id must be an unsigned integer");
  if (!op) {
    const auto it = j.find("op");
    if (it == j.end() || !it->is_string()) return Error(400, id, "op must be \"add\" or \"score\"");
    if (*it == "add") op = Op::kAdd;
    else if (*it == "score") op = Op::kScore;
    else return Error(400, id, "op must be \"add\" or \"score\"");
  }
  json out;
  out["id"] = id;
  if (*op == Op::kAdd) {
    int64_t x, y;
    if (!GetInt64(j, "x", &x) || !GetInt64(j, "y", &y)) return Error(400, id, "x and y must be int64 integers");
    out["result"] = Add(x, y);
  } else {
    const auto f = j.find("features");
    const auto m = j.find("model");
    if (f == j.end() || !f->is_array()) return Error(400, id, "features must be an array of numbers");
    if (f->size() > raw::kMaxFeatures) return Error(400, id, "more than 131072 features");
    if (m == j.end() || !m->is_string()) return Error(400, id, "model must be a string");
    if (m->get_ref<const std::string&>().size() > raw::kMaxModelBytes) {
      return Error(400, id, "model name longer than 1024 bytes");
    }
    std::vector<double> features;
    features.reserve(f->size());
    for (const auto& v : *f) {
      if (!v.is_number()) return Error(400, id, "features must be an array of numbers");
      features.push_back(v.get<double>());
    }
    const ScoreResult r = Score(features);
    out["score"] = r.score;
    out["label"] = r.label;
  }
  return {200, out.dump()};
}

}  // namespace interop::json_codec
