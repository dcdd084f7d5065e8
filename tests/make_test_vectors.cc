// Regenerates schemas/test_vectors.json: the inputs below, with the expected
// outputs computed by the C++ reference workload. Run after changing the inputs:
//   build/tests/make_test_vectors > schemas/test_vectors.json
// Every language's tests then check its own workload against these bits.
#include <cstdint>
#include <cstring>
#include <tuple>
#include <cstdio>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "byte_digest.h"
#include "common/raw_frame.h"
#include "common/workload.h"
#include "transports/codec/codec.h"
#include "transports/json/json_codec.h"
#include "transports/raw_stream/raw_answer.h"

namespace {

struct ScoreInput {
  std::string name;
  std::vector<double> features;  // used when ramp_n < 0
  long ramp_n;                   // >= 0: features are RampFeatures(ramp_n)
  std::string model;
};

using interop::test_bytes::BytesOfHex;
using interop::test_bytes::Fnv1a64;
using interop::test_bytes::HexBytes;

using nlohmann::ordered_json;

// One batch item: a call the vector spells out, or raw bytes of a given kind
// (a wrong item), with what the reply's item must hold.
struct BatchCase {
  ordered_json item;   // as written in the vector
  ordered_json reply;  // likewise
};

// Adds `c` to the request and its answer (computed here by the C++
// reference) to the reply; the reply's error messages are C++'s.
void AddCase(const ordered_json& item, interop::raw::BatchWriter& request, interop::raw::BatchWriter& reply,
             ordered_json* reply_json) {
  namespace raw = interop::raw;
  if (item.contains("add")) {
    const int64_t x = item["add"][0], y = item["add"][1];
    request.AddAddRequest(x, y);
    reply.AddAddReply(interop::Add(x, y));
    reply_json->push_back({{"add", interop::Add(x, y)}});
  } else if (item.contains("score")) {
    const auto& f = item["score"]["features"];
    const std::vector<double> features =
        f.is_object() ? interop::RampFeatures(f["ramp"].get<long>()) : f.get<std::vector<double>>();
    const std::string model = item["score"]["model"];
    request.AddScoreRequest(features, model);
    const auto r = interop::Score(features);
    reply.AddScoreReply(r.score, r.label);
    reply_json->push_back({{"score_hex", interop::test_bytes::HexOfDouble(r.score)}, {"label", std::string(r.label)}});
  } else {
    const std::vector<uint8_t> payload = BytesOfHex(item["payload_hex"]);
    const auto kind = static_cast<raw::Kind>(item["kind"].get<int>());
    request.AddItem(kind, payload);
    // What the C++ parsers say of it.
    std::string why;
    if (kind == raw::Kind::kAddRequest) {
      int64_t x, y;
      why = raw::ParseAddRequest(payload, &x, &y);
    } else {
      raw::ScoreRequestView v;
      why = raw::ParseScoreRequest(payload, &v);
    }
    reply.AddError(why);
    reply_json->push_back({{"error", why}});
  }
}

ordered_json BatchVector(const std::string& name, uint64_t id, const std::vector<ordered_json>& items,
                         const ordered_json& generated) {
  namespace raw = interop::raw;
  std::vector<uint8_t> request_bytes, reply_bytes;
  raw::BatchWriter request(request_bytes, raw::Kind::kBatchRequest, id);
  raw::BatchWriter reply(reply_bytes, raw::Kind::kBatchReply, id);
  ordered_json reply_json = ordered_json::array();
  for (const auto& item : items) AddCase(item, request, reply, &reply_json);
  request.Finish();
  reply.Finish();
  ordered_json v = {{"name", name}, {"id", id}};
  if (generated.is_null()) {
    v["items"] = items;
    v["request_hex"] = HexBytes(request_bytes);
    v["reply_items"] = reply_json;
    v["reply_hex"] = HexBytes(reply_bytes);
  } else {
    v["generated"] = generated;
    v["request_bytes"] = request_bytes.size();
    v["request_fnv1a64"] = Fnv1a64(request_bytes);
    v["reply_bytes"] = reply_bytes.size();
    v["reply_fnv1a64"] = Fnv1a64(reply_bytes);
    v["wrong_reply_item"] = reply_json[generated["wrong"].get<std::size_t>()];
  }
  return v;
}


// A JSON batch vector (json_transports.md, Batches): the request as C++
// writes it, and what the C++ reference answers, item by item. `generated`
// (B = 1,000) keeps only its rule, its wrong item and a digest of the results.
ordered_json JsonBatchVector(const std::string& name, const ordered_json& request, const ordered_json& generated) {
  const std::string text = request.dump();
  const auto answer = interop::json_codec::AnswerRequest(text, std::nullopt);
  const auto reply = ordered_json::parse(answer.body);
  ordered_json v = {{"name", name}};
  if (reply.contains("error")) {  // a wrong shape: the whole batch is refused
    v["request_json"] = text;
    v["refused"] = true;
    return v;
  }
  ordered_json items = ordered_json::array();
  std::vector<uint8_t> results;  // the add results, int64 little-endian, error items left out
  for (const auto& item : reply.at("items")) {
    if (item.contains("error")) {
      items.push_back({{"error", true}});
    } else if (item.contains("result")) {
      const int64_t r = item["result"];
      items.push_back({{"add", r}});
      for (int b = 0; b < 8; ++b) results.push_back(static_cast<uint8_t>(static_cast<uint64_t>(r) >> (8 * b)));
    } else {
      items.push_back({{"score_hex", interop::test_bytes::HexOfDouble(item["score"].get<double>())}, {"label", item["label"]}});
    }
  }
  if (generated.is_null()) {
    v["request_json"] = text;
    v["reply_items"] = items;
  } else {
    v["generated"] = generated;
    v["request_json_bytes"] = text.size();
    v["results_fnv1a64"] = Fnv1a64(results);
  }
  return v;
}

// One message in every codec (raw_frame.md, "Other codecs in the frame";
// json_transports.md, "Other codecs on Redis and files"): the request as
// the harness encodes it alone and framed, and the C++ peer's reply to each.
struct CodecCase {
  std::string name;
  ordered_json spec;  // {"id", and "add": [x, y] | "score": {features, model} | "batch": [..]}
  bool digest = false;  // long: bytes given by length and FNV-1a 64
};

// The Request a spec describes; `store` keeps what its views point into.
interop::Request RequestOf(const ordered_json& spec, std::vector<std::vector<double>>& features,
                           std::vector<std::string>& models, std::vector<interop::Request>& items) {
  interop::Request r;
  auto one = [&](const ordered_json& call, interop::Request& out) {
    if (call.contains("add")) {
      out.op = interop::Op::kAdd;
      out.x = call["add"][0];
      out.y = call["add"][1];
    } else {
      const auto& f = call["score"]["features"];
      features.push_back(f.is_object() ? interop::RampFeatures(f["ramp"].get<long>()) : f.get<std::vector<double>>());
      models.push_back(call["score"]["model"]);
      out.op = interop::Op::kScore;
      out.features = features.back();
      out.model = models.back();
    }
  };
  features.reserve(16);
  models.reserve(16);
  r.id = spec["id"];
  if (spec.contains("batch")) {
    items.resize(spec["batch"].size());
    for (std::size_t i = 0; i < items.size(); ++i) one(spec["batch"][i], items[i]);
    r.items = items;
  } else {
    one(spec, r);
  }
  return r;
}

void PutBytes(ordered_json& v, const std::string& key, std::string_view bytes, bool digest) {
  const std::vector<uint8_t> b(bytes.begin(), bytes.end());
  if (digest) {
    v[key + "_bytes"] = b.size();
    v[key + "_fnv1a64"] = Fnv1a64(b);
  } else {
    v[key + "_hex"] = HexBytes(b);
  }
}

ordered_json CodecVector(const CodecCase& c) {
  using interop::Codec;
  std::vector<std::vector<double>> features;
  std::vector<std::string> models;
  std::vector<interop::Request> items;
  const interop::Request request = RequestOf(c.spec, features, models, items);
  ordered_json v = {{"name", c.name}, {"request", c.spec}};
  std::vector<double> scratch;
  for (Codec codec : {Codec::kRaw, Codec::kJson, Codec::kProtobuf}) {
    const std::string name(interop::CodecName(codec));
    interop::MessageCodec mc(codec);
    std::string alone;
    mc.Encode(request, {}, alone);
    std::vector<uint8_t> framed;
    mc.EncodeFramed(request, framed);
    // The peer's answer to the framed request (every codec in a frame).
    interop::raw::Header h{};
    interop::raw::DecodeHeader(framed.data(), &h);
    std::vector<uint8_t> reply_frame;
    interop::AnswerRawRequest(h, std::span(framed).subspan(interop::raw::kHeaderSize), reply_frame, scratch);
    const std::string_view reply_frame_view(reinterpret_cast<const char*>(reply_frame.data()), reply_frame.size());
    // Alone (Redis, files): raw is the frame itself; JSON and protobuf their message.
    const std::string_view reply_alone =
        codec == Codec::kRaw ? reply_frame_view : reply_frame_view.substr(interop::raw::kHeaderSize);
    if (codec == Codec::kJson) {
      if (c.digest) PutBytes(v, "json", alone, true);
      else v["json"] = alone;
      if (c.digest) PutBytes(v, "reply_json", reply_alone, true);
      else v["reply_json"] = std::string(reply_alone);
    } else {
      PutBytes(v, name, alone, c.digest);
      PutBytes(v, "reply_" + name, reply_alone, c.digest);
    }
    if (codec != Codec::kRaw) {
      PutBytes(v, name + "_framed", {reinterpret_cast<const char*>(framed.data()), framed.size()}, c.digest);
      PutBytes(v, "reply_" + name + "_framed", reply_frame_view, c.digest);
    }
  }
  // What every reply must decode to.
  ordered_json expect = ordered_json::array();
  auto expected = [](const interop::Request& call) {
    if (call.op == interop::Op::kAdd) return ordered_json{{"add", interop::Add(call.x, call.y)}};
    const auto r = interop::Score(call.features);
    return ordered_json{{"score_hex", interop::test_bytes::HexOfDouble(r.score)}, {"label", std::string(r.label)}};
  };
  if (request.is_batch()) {
    for (const auto& item : request.items) expect.push_back(expected(item));
    v["reply_items"] = expect;
  } else {
    v["reply"] = expected(request);
  }
  return v;
}

}  // namespace

int main() {
  using nlohmann::ordered_json;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  const std::vector<std::tuple<std::string, int64_t, int64_t>> adds = {
      {"small", 2, 3},           {"negative", -7, 3},       {"zero", 0, 0},
      {"max plus one wraps", kMax, 1}, {"min minus one wraps", kMin, -1},
      {"max plus max", kMax, kMax},    {"min plus min", kMin, kMin},
      {"large mixed", 4611686018427387904LL, -9000000000000000000LL},
  };
  const std::vector<ScoreInput> scores = {
      {"empty features: z = 0, score exactly 0.5", {}, -1, "fraud-v3"},
      {"one feature", {1.0}, -1, "fraud-v3"},
      {"the seeds' example", {0.4, 1.2}, -1, "fraud-v3"},
      {"weights cancel to z = 0", {1, 0, 0, 0, 0, 0, 1}, -1, "m"},
      {"exp overflows: score 0", {1e6}, -1, "overflow"},
      {"exp underflows: score 1", {-1e6}, -1, "underflow"},
      {"ramp 256, non-ASCII model", {}, 256, "modèle-ü"},
      {"ramp 4096", {}, 4096, "fraud-v3"},
      {"ramp 65536, 4-byte UTF-8 model", {}, 65536, "モデル-αβγ-😀"},
  };

  ordered_json doc;
  doc["about"] =
      "Shared test vectors. Generated by tests/make_test_vectors.cc from the C++ reference; "
      "every language must reproduce result and score bits (score_hex: IEEE-754 bits) exactly.";
  doc["ramp"] = "features {\"ramp\": n} means f[i] = ((i * 37) mod 101) / 50.0 - 1.0 for i < n";
  doc["add"] = ordered_json::array();
  for (const auto& [name, x, y] : adds) {
    doc["add"].push_back({{"name", name}, {"x", x}, {"y", y}, {"result", interop::Add(x, y)}});
  }
  doc["score"] = ordered_json::array();
  for (const auto& s : scores) {
    const std::vector<double> f = s.ramp_n >= 0 ? interop::RampFeatures(s.ramp_n) : s.features;
    const auto r = interop::Score(f);
    ordered_json v = {{"name", s.name}};
    if (s.ramp_n >= 0) {
      v["features"] = {{"ramp", s.ramp_n}};
    } else {
      v["features"] = s.features;
    }
    v["model"] = s.model;
    v["score"] = r.score;
    v["score_hex"] = interop::test_bytes::HexOfDouble(r.score);
    v["label"] = std::string(r.label);
    doc["score"].push_back(v);
  }
  // Batches (raw_frame.md, Batches): B = 1, 3 and 1,000, with a wrong item
  // in the middle; the reply's error items carry the C++ parsers' messages.
  doc["raw_batch_about"] =
      "Batch frames: request_hex is what encoding `items` must give, bit for bit; answering it must give "
      "reply_items (an error item's message is each language's own), and encoding reply_items with these "
      "messages must give reply_hex. `generated` vectors are too long to spell out: item i is add(x = i * "
      "1000003, y = 7 - i), except item `wrong`, an add item whose payload is 8 zero bytes; their frames are "
      "given by length and FNV-1a 64 (offset 0xcbf29ce484222325, prime 0x100000001b3).";
  doc["raw_batch"] = ordered_json::array();
  doc["raw_batch"].push_back(BatchVector("one add", 7, {{{"add", {2, 3}}}}, nullptr));
  doc["raw_batch"].push_back(BatchVector(
      "three adds, the middle one 8 bytes long", 8,
      {{{"add", {2, 3}}}, {{"kind", 1}, {"payload_hex", "0000000000000000"}}, {{"add", {kMax, 1}}}}, nullptr));
  doc["raw_batch"].push_back(BatchVector(
      "three scores, the middle one's model not UTF-8", 9,
      {{{"score", {{"features", {{"ramp", 4}}}, {"model", "m"}}}},
       {{"kind", 2}, {"payload_hex", "000000000200000" "0c0af"}},
       {{"score", {{"features", {0.4, 1.2}}, {"model", "modèle-ü"}}}}},
      nullptr));
  std::vector<ordered_json> thousand;
  for (int64_t i = 0; i < 1000; ++i) {
    if (i == 500) thousand.push_back({{"kind", 1}, {"payload_hex", "0000000000000000"}});
    else thousand.push_back({{"add", {i * 1000003, 7 - i}}});
  }
  doc["raw_batch"].push_back(
      BatchVector("1000 adds, item 500 8 bytes long", 10, thousand, {{"count", 1000}, {"wrong", 500}}));
  doc["json_batch_about"] =
      "JSON batches (json_transports.md, Batches): decoding request_json and answering it must give "
      "reply_items, item by item (error: true is an error item, its message each language's own; score "
      "bits exact), or, for a wrong shape (refused: true), one error reply for the whole batch. The `generated` vector is item i = {op: add, x: i * 1000003, y: 7 - i}, except item "
      "`wrong`, which lacks y; its reply's add results (int64 little-endian, the error item left out) "
      "must hash to results_fnv1a64 (FNV-1a 64).";
  doc["json_batch"] = ordered_json::array();
  const auto add_item = [](int64_t x, int64_t y) { return ordered_json{{"op", "add"}, {"x", x}, {"y", y}}; };
  doc["json_batch"].push_back(JsonBatchVector(
      "one add", {{"id", 7}, {"op", "batch"}, {"items", {add_item(2, 3)}}}, nullptr));
  doc["json_batch"].push_back(JsonBatchVector(
      "three adds, the middle one's x a string", {{"id", 8}, {"op", "batch"},
       {"items", {add_item(2, 3), {{"op", "add"}, {"x", "a"}, {"y", 1}}, add_item(kMax, 1)}}}, nullptr));
  doc["json_batch"].push_back(JsonBatchVector(
      "three scores, the middle one's op unknown", {{"id", 9}, {"op", "batch"},
       {"items", {{{"op", "score"}, {"features", interop::RampFeatures(4)}, {"model", "m"}},
                  {{"op", "mul"}, {"x", 1}, {"y", 2}},
                  {{"op", "score"}, {"features", {0.4, 1.2}}, {"model", "modèle-ü"}}}}}, nullptr));
  doc["json_batch"].push_back(JsonBatchVector(
      "no items: refused whole", {{"id", 11}, {"op", "batch"}, {"items", ordered_json::array()}}, nullptr));
  doc["json_batch"].push_back(JsonBatchVector(
      "an item not an object: refused whole", {{"id", 12}, {"op", "batch"}, {"items", {add_item(1, 2), 3}}}, nullptr));
  ordered_json thousand_json = ordered_json::array();
  for (int64_t i = 0; i < 1000; ++i) {
    if (i == 500) thousand_json.push_back({{"op", "add"}, {"x", i * 1000003}});
    else thousand_json.push_back(add_item(i * 1000003, 7 - i));
  }
  doc["json_batch"].push_back(JsonBatchVector("1000 adds, item 500 without y",
      {{"id", 10}, {"op", "batch"}, {"items", thousand_json}}, {{"id", 10}, {"count", 1000}, {"wrong", 500}}));
  doc["codecs_about"] =
      "One message in every codec (raw_frame.md 'Other codecs in the frame', json_transports.md 'Other codecs on "
      "Redis and files'): raw_hex is the raw frame, json the JSON request (with op, no reply_to), protobuf_hex a "
      "serialized interop.v1.Request; *_framed_hex the same JSON or protobuf message in the frame header (kind "
      "0x20 / 0x30, the request's id). reply_* are the C++ peer's answers in each form (reply_raw_hex alone is "
      "also the framed raw reply). Every language must decode every request form to the request's values and "
      "answer it with a reply that decodes to `reply` (or `reply_items`), bit for bit; raw and protobuf bytes "
      "must also encode bit for bit, JSON text may differ in spelling (key order, number format) but not in "
      "value. Long vectors give bytes by length and FNV-1a 64.";
  doc["codecs"] = ordered_json::array();
  const std::vector<CodecCase> codec_cases = {
      {"add 2 + 3", {{"id", 7}, {"add", {2, 3}}}},
      {"add wraps at int64", {{"id", 18446744073709551615ULL}, {"add", {kMax, 1}}}},
      {"score, two features, non-ASCII model",
       {{"id", 8}, {"score", {{"features", {0.4, 1.2}}, {"model", "modèle-ü"}}}}},
      {"score, ramp 16", {{"id", 9}, {"score", {{"features", {{"ramp", 16}}}, {"model", "fraud-v3"}}}}},
      {"score, no features", {{"id", 10}, {"score", {{"features", ordered_json::array()}, {"model", ""}}}}},
      {"batch: two adds and a score",
       {{"id", 11},
        {"batch", {{{"add", {2, 3}}}, {{"add", {kMin, -1}}}, {{"score", {{"features", {0.4, 1.2}}, {"model", "m"}}}}}}}},
      {"score, ramp 4096", {{"id", 12}, {"score", {{"features", {{"ramp", 4096}}}, {"model", "fraud-v3"}}}}, true},
      {"batch of one add", {{"id", 13}, {"batch", {{{"add", {40, 2}}}}}}},
  };
  for (const auto& c : codec_cases) doc["codecs"].push_back(CodecVector(c));
  std::puts(doc.dump(1).c_str());
  return 0;
}
