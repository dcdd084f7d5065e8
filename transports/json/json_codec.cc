#include "transports/json/json_codec.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <vector>

#include "common/raw_frame.h"
#include "common/workload.h"

namespace interop::json_codec {

using nlohmann::json;

namespace {

void AppendUnsigned(std::string& out, uint64_t v) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

void AppendSigned(std::string& out, int64_t v) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

// Shortest round-trip, so the peer parses back the very bits; a whole number
// gets ".0" (nlohmann's way, and a JSON reader then sees a float). JSON has
// no NaN or infinity: those go as null, which a peer refuses.
void AppendDouble(std::string& out, double v) {
  if (!std::isfinite(v)) {
    out.append("null");
    return;
  }
  char buf[32];
  char* end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  const std::string_view text(buf, static_cast<std::size_t>(end - buf));
  out.append(text);
  if (text.find_first_of(".e") == std::string_view::npos) out.append(".0");
}

void AppendString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out.append(buf);
        } else {
          out.push_back(ch);  // UTF-8 goes through as it is
        }
    }
  }
  out.push_back('"');
}

}  // namespace

namespace {

// One call's fields after its id (or as a batch item's whole body).
void AppendCall(const Request& r, bool include_op, std::string& out) {
  if (r.op == Op::kAdd) {
    if (include_op) out.append(",\"op\":\"add\"");
    out.append(",\"x\":");
    AppendSigned(out, r.x);
    out.append(",\"y\":");
    AppendSigned(out, r.y);
  } else {
    if (include_op) out.append(",\"op\":\"score\"");
    out.append(",\"features\":[");
    for (std::size_t i = 0; i < r.features.size(); ++i) {
      if (i) out.push_back(',');
      AppendDouble(out, r.features[i]);
    }
    out.append("],\"model\":");
    AppendString(out, r.model);
  }
}

}  // namespace

std::string TooLarge(const Request& r) {
  // reply_to as Redis sends it, "interop:RUN:TAG:reply:1", with room for long tags.
  const std::string reply_to(256, 'r');
  const std::size_t body = EncodedSize(r, reply_to, kMaxJsonBytes);
  if (body > kMaxJsonBytes) {
    return "its JSON body would be " + std::to_string(body) + " bytes or more (counting stops past the bound), "
           "above the bound of " + std::to_string(kMaxJsonBytes);
  }
  const std::size_t reply = 64 + r.items.size() * kMaxReplyItemBytes;
  if (reply > kMaxJsonBytes) {
    return "its JSON reply could be " + std::to_string(reply) + " bytes (" + std::to_string(kMaxReplyItemBytes) +
           " a call), above the bound of " + std::to_string(kMaxJsonBytes);
  }
  return {};
}

namespace {

// A batch item: {"op":..,fields}, after a comma unless it is the first.
void AppendItem(const Request& item, bool first, std::string& out) {
  out.append(first ? "{\"op\":" : ",{\"op\":");
  out.append(item.op == Op::kAdd ? "\"add\"" : "\"score\"");
  AppendCall(item, /*include_op=*/false, out);  // its fields, each after a comma
  out.push_back('}');
}

void AppendTail(std::string_view reply_to, std::string& out) {
  if (!reply_to.empty()) {
    out.append(",\"reply_to\":");
    AppendString(out, reply_to);
  }
  out.push_back('}');
}

}  // namespace

void EncodeRequest(const Request& r, bool include_op, std::string_view reply_to, std::string& out) {
  out.assign("{\"id\":");
  AppendUnsigned(out, r.id);
  if (r.is_batch()) {
    // A batch always names its op (REST's /batch checks it) and each item's.
    out.append(",\"op\":\"batch\",\"items\":[");
    for (std::size_t i = 0; i < r.items.size(); ++i) AppendItem(r.items[i], i == 0, out);
    out.push_back(']');
  } else {
    AppendCall(r, include_op, out);
  }
  AppendTail(reply_to, out);
}

std::size_t EncodedSize(const Request& r, std::string_view reply_to, std::size_t stop_above) {
  if (!r.is_batch()) {
    std::string out;
    EncodeRequest(r, /*include_op=*/true, reply_to, out);
    return out.size();
  }
  // Item by item, so a batch far above the bound is never built whole.
  std::string part = "{\"id\":";
  AppendUnsigned(part, r.id);
  part.append(",\"op\":\"batch\",\"items\":[]");
  AppendTail(reply_to, part);
  std::size_t size = part.size();
  for (std::size_t i = 0; i < r.items.size() && size <= stop_above; ++i) {
    part.clear();
    AppendItem(r.items[i], i == 0, part);
    size += part.size();
  }
  return size;
}

struct ReplyDecoder::Parser {
  simdjson::dom::parser parser;
};

ReplyDecoder::ReplyDecoder() : parser_(std::make_unique<Parser>()) {}
ReplyDecoder::~ReplyDecoder() = default;

namespace {

// A call's fields of a reply object (a single reply's, or a batch item's)
// into `reply`, as `op` asked for.
void DecodeCall(const simdjson::dom::object& obj, Op op, Reply& reply) {
  simdjson::dom::element error;
  if (obj["error"].get(error) == simdjson::SUCCESS) {
    std::string_view message;
    reply.error = "peer error: " + (error.get_string().get(message) == simdjson::SUCCESS ? std::string(message)
                                                                                           : simdjson::minify(error));
    return;
  }
  if (op == Op::kAdd) {
    // int64 only: a peer that forgot to wrap (above INT64_MAX) must not pass.
    if (obj["result"].get_int64().get(reply.result) != simdjson::SUCCESS) {
      reply.error = "add reply has no int64 result";
      return;
    }
    reply.kind = ReplyKind::kAdd;
  } else {
    std::string_view label;
    if (obj["score"].get_double().get(reply.score) != simdjson::SUCCESS ||
        obj["label"].get_string().get(label) != simdjson::SUCCESS) {
      reply.error = "score reply lacks score or label";
      return;
    }
    reply.label.assign(label);
    reply.kind = ReplyKind::kScore;
  }
}

}  // namespace

void ReplyDecoder::Decode(std::string_view text, Op op, Reply& reply) {
  simdjson::dom::element doc;
  simdjson::dom::object obj;
  if (parser_->parser.parse(text.data(), text.size()).get(doc) != simdjson::SUCCESS ||
      doc.get_object().get(obj) != simdjson::SUCCESS) {
    reply.error = "reply is not a JSON object: " + std::string(text.substr(0, 200));
    return;
  }
  simdjson::dom::element error;
  if (obj["error"].get(error) == simdjson::SUCCESS) return DecodeCall(obj, op, reply);  // the whole message refused
  // Unsigned and integral: a negative id, or 7.0, is no id.
  if (obj["id"].get_uint64().get(reply.id) != simdjson::SUCCESS) {
    reply.error = "reply has no id";
    return;
  }
  // A batch reply is known by its items (json_transports.md, Batches); the
  // runner checks it was a batch that was asked for.
  simdjson::dom::array items;
  if (obj["items"].get_array().get(items) == simdjson::SUCCESS) {
    reply.kind = ReplyKind::kBatch;
    reply.items.reserve(items.size());
    for (simdjson::dom::element item : items) {
      Reply& out = reply.AddItem();
      simdjson::dom::object item_obj;
      if (item.get_object().get(item_obj) != simdjson::SUCCESS) out.error = "a batch reply item is not an object";
      else DecodeCall(item_obj, op, out);
    }
    return;
  }
  DecodeCall(obj, op, reply);
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

namespace {

// One call's fields in `j` answered into `out` ("result", or "score" and
// "label"); the error's message when a field is missing or wrong.
std::optional<std::string> AnswerCall(const json& j, Op op, json& out) {
  if (op == Op::kAdd) {
    int64_t x, y;
    if (!GetInt64(j, "x", &x) || !GetInt64(j, "y", &y)) return "x and y must be int64 integers";
    out["result"] = Add(x, y);
    return std::nullopt;
  }
  const auto f = j.find("features");
  const auto m = j.find("model");
  if (f == j.end() || !f->is_array()) return "features must be an array of numbers";
  if (f->size() > raw::kMaxFeatures) return "more than 131072 features";
  if (m == j.end() || !m->is_string()) return "model must be a string";
  if (m->get_ref<const std::string&>().size() > raw::kMaxModelBytes) return "model name longer than 1024 bytes";
  std::vector<double> features;
  features.reserve(f->size());
  for (const auto& v : *f) {
    if (!v.is_number()) return "features must be an array of numbers";
    features.push_back(v.get<double>());
  }
  const ScoreResult r = Score(features);
  out["score"] = r.score;
  out["label"] = r.label;
  return std::nullopt;
}

// The op an "op" field names, if it names one a call or batch item may have.
std::optional<Op> OpOf(const json& j) {
  const auto it = j.find("op");
  if (it == j.end() || !it->is_string()) return std::nullopt;
  if (*it == "add") return Op::kAdd;
  if (*it == "score") return Op::kScore;
  return std::nullopt;
}

// {"id":..,"op":"batch","items":[..]}: one reply item per item, in order.
// An item that is not an object, or an empty or oversized list, refuses the
// whole batch (its shape is wrong); a bad call in an item is that item's error.
Answer AnswerBatch(const json& j, const json& id) {
  const auto items = j.find("items");
  if (items == j.end() || !items->is_array() || items->empty() || items->size() > raw::kMaxBatchItems) {
    return Error(400, id, "items must be an array of 1 to 100000 calls");
  }
  json out;
  out["id"] = id;
  json& replies = out["items"] = json::array();
  for (const auto& item : *items) {
    if (!item.is_object()) return Error(400, id, "every batch item must be a JSON object");
    json reply = json::object();
    const auto op = OpOf(item);
    const auto error = op ? AnswerCall(item, *op, reply) : std::optional<std::string>("op must be \"add\" or \"score\"");
    if (error) reply = json{{"error", *error}};
    replies.push_back(std::move(reply));
  }
  return {200, out.dump(), items->size()};
}

}  // namespace

namespace {

// `batch_only`: POST /batch, where a body of any other op is refused.
Answer AnswerBody(std::string_view body, std::optional<Op> op, std::string* reply_to,
                  std::optional<uint64_t> fallback_id, bool batch_only) {
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
    if (auto it = j.find("op"); it != j.end() && *it == "batch") return AnswerBatch(j, id);
    if (batch_only) return Error(400, id, "POST /batch takes a body whose op is \"batch\"");
    op = OpOf(j);
    if (!op) return Error(400, id, "op must be \"add\", \"score\" or \"batch\"");
  }
  json out;
  out["id"] = id;
  if (const auto error = AnswerCall(j, *op, out)) return Error(400, id, *error);
  return {200, out.dump(), 1};
}

}  // namespace

Answer AnswerRequest(std::string_view body, std::optional<Op> op, std::string* reply_to,
                     std::optional<uint64_t> fallback_id) {
  return AnswerBody(body, op, reply_to, fallback_id, /*batch_only=*/false);
}

Answer AnswerBatchBody(std::string_view body) {
  return AnswerBody(body, std::nullopt, nullptr, std::nullopt, /*batch_only=*/true);
}

}  // namespace interop::json_codec
