#include "bench/plan.h"

#include "bench/runner.h"
#include "common/raw_frame.h"
#include "transports/codec/codec.h"

#include <algorithm>
#include <sstream>

namespace interop {
namespace {

std::vector<std::string> SplitList(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

}  // namespace

std::vector<const TransportSpec*> SelectTransports(const std::string& list,
                                                   const std::map<std::string, std::string>& variant_filters) {
  std::vector<const TransportSpec*> out;
  const auto names = SplitList(list);
  if (names.empty()) throw UsageError("--transport needs a name; valid: all, " + TransportNames());
  for (const auto& [family, variant] : variant_filters) {
    bool known = variant == "both";
    for (const auto& t : Transports()) known |= t.family == family && t.variant == variant;
    if (!known) throw UsageError("unknown --" + family + "-wait '" + variant + "'");
  }
  // A row of a family is kept when its variant passes the family's filter.
  auto wanted = [&](const TransportSpec& t) {
    const auto f = variant_filters.find(std::string(t.family));
    return t.family.empty() || f == variant_filters.end() || f->second == "both" || f->second == t.variant;
  };
  // Each row is named once: a name that repeats one before it (itself, or a
  // family or "all" that already holds it) is a mistake worth saying.
  std::map<const TransportSpec*, std::string> named_by;
  auto add = [&](const TransportSpec* t, const std::string& name) {
    if (const auto it = named_by.find(t); it != named_by.end()) {
      throw UsageError("--transport selects " + std::string(t->name) + " twice (as '" + it->second + "' and '" +
                       name + "')");
    }
    named_by[t] = name;
    out.push_back(t);
  };
  for (const auto& name : names) {
    bool matched = false;
    for (const auto& t : Transports()) {
      if (name == "all" || t.family == name) {
        matched = true;
        if (wanted(t)) add(&t, name);
      } else if (t.name == name) {
        matched = true;
        add(&t, name);  // named outright: kept whatever the filter says
      }
    }
    if (!matched) throw UsageError("unknown transport '" + name + "'; valid: all, " + TransportNames());
  }
  // Report order is spectrum order, whatever order they were named in.
  std::sort(out.begin(), out.end());  // the registry is one vector: address order is table order
  return out;
}

std::vector<PeerKind> SelectPeers(const std::string& list) {
  std::vector<PeerKind> out;
  const auto names = SplitList(list);
  if (names.empty()) throw UsageError("--peer needs a name; valid: all, cpp, python, ruby");
  std::map<PeerKind, std::string> named_by;
  for (const auto& name : names) {
    bool found = false;
    for (PeerKind p : kAllPeers) {
      if (name != "all" && PeerName(p) != name) continue;
      found = true;
      if (const auto it = named_by.find(p); it != named_by.end()) {
        throw UsageError("--peer selects " + std::string(PeerName(p)) + " twice (as '" + it->second + "' and '" +
                         name + "')");
      }
      named_by[p] = name;
      out.push_back(p);
    }
    if (!found) throw UsageError("unknown peer '" + name + "'; valid: all, cpp, python, ruby");
  }
  std::sort(out.begin(), out.end());
  return out;
}

RowSpec MakeRowSpec(const TransportSpec* transport, PeerKind peer, RowRole role,
                    std::vector<std::string> extra_peer_args) {
  return {transport, peer, std::string(transport->default_codec), role, {}, false, std::move(extra_peer_args)};
}

std::size_t FeaturesOf(const RowSpec& spec, const RunSettings& s) {
  return spec.features > 0 ? spec.features : s.features;
}

Codec CodecOf(const RowSpec& spec) { return ParseCodec(spec.codec).value_or(Codec::kRaw); }

RunSettings RowSettings(const RowSpec& spec, const RunSettings& s) {
  RunSettings row = s;
  row.features = FeaturesOf(spec, s);
  return row;
}

std::vector<std::string> CodecsOf(const TransportSpec& t) {
  std::vector<std::string> out{std::string(t.default_codec)};
  for (Codec c : t.codecs) {
    const std::string name(CodecName(c));
    if (name != t.default_codec) out.push_back(name);
  }
  return out;
}

RowId IdOf(const RowSpec& spec, const RunSettings& s) {
  RowId id;
  id.transport = std::string(spec.transport->name);
  id.peer = std::string(PeerName(spec.peer));
  id.workload = s.op == Op::kAdd ? "add" : "score";
  id.features = s.op == Op::kScore ? FeaturesOf(spec, s) : 0;
  id.codec = spec.codec;
  id.inflight = spec.inflight;
  id.batch = spec.batch;
  id.role = spec.role;
  return id;
}

std::vector<RowSpec> PlanRows(const std::vector<const TransportSpec*>& transports,
                              const std::vector<PeerKind>& peers, bool floors, bool references,
                              const Knobs& knobs) {
  std::vector<RowSpec> rows;
  for (const TransportSpec* t : transports) {
    // The codecs this transport's rows speak: each of --codec's that it
    // can carry, else its default.
    std::vector<std::string> codecs;
    const auto carried = CodecsOf(*t);
    if (!knobs.codecs.empty()) {
      for (const auto& c : knobs.codecs) {
        if (std::find(carried.begin(), carried.end(), c) != carried.end()) codecs.push_back(c);
      }
    } else {
      codecs.emplace_back(t->default_codec);
    }
    for (PeerKind p : peers) {
      for (const std::string& c : codecs) {
      for (std::size_t f : knobs.features.empty() ? std::vector<std::size_t>{0} : knobs.features) {
      for (int b : knobs.batch.empty() ? std::vector<int>{0} : knobs.batch) {
      for (int k : knobs.inflight.empty() ? std::vector<int>{0} : knobs.inflight) {
        RowSpec at_k = MakeRowSpec(t, p);
        at_k.codec = c;
        at_k.features = f;
        at_k.batch = b;
        at_k.inflight = k;
        at_k.with_reference = references && t->http_request != nullptr;  // wrk, with -cK under load
        if (k > 1 && t->overlaps.empty()) {
          at_k.note = "its client cannot keep calls in flight yet: the " + std::to_string(k) + " go one after another";
        }
        if (floors && k > 1) {
          at_k.note += std::string(at_k.note.empty() ? "" : "; ") + "no floor under load: a floor echoes one call at a time";
        }
        rows.push_back(at_k);
        // A floor echoes one call at a time: only the closed loop has one.
        if (floors && k <= 1) {
          at_k.role = RowRole::kFloor;
          at_k.with_reference = false;
          rows.push_back(std::move(at_k));
        }
      }
      }
      }
      }
    }
  }
  return rows;
}

namespace {

// "1,8,64" -> ascending counts from 1 to `most`, none twice; `what` says
// what each counts, for the message.
std::vector<int> ParseCountList(const char* option, const std::string& list, int most, const char* what,
                                const char* example) {
  std::vector<int> out;
  for (const std::string& item : SplitList(list)) {
    std::size_t used = 0;
    long long n = -1;
    try {
      n = std::stoll(item, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != item.size() || n < 1 || n > most) {
      throw UsageError(std::string(option) + "=" + list + ": '" + item + "' is not a count of " + what + " from 1 to " +
                       std::to_string(most));
    }
    if (std::find(out.begin(), out.end(), n) != out.end()) {
      throw UsageError(std::string(option) + "=" + list + " names " + item + " twice");
    }
    out.push_back(static_cast<int>(n));
  }
  if (out.empty()) throw UsageError(std::string(option) + " needs a list of counts, e.g. " + example);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::vector<int> ParseInflightList(const std::string& list) {
  return ParseCountList("--inflight", list, kMaxInflight, "calls in flight", "1,8,64");
}

std::vector<int> ParseBatchList(const std::string& list) {
  return ParseCountList("--batch", list, kMaxBatch, "calls per message", "1,10,100,1000");
}

std::vector<std::size_t> ParseFeaturesList(const std::string& list) {
  const auto counts = ParseCountList("--features", list, static_cast<int>(raw::kMaxFeatures), "features",
                                     "16,256,4096");
  return {counts.begin(), counts.end()};
}

std::vector<std::string> ParseCodecList(const std::string& list) {
  std::vector<std::string> out;
  for (const std::string& name : SplitList(list)) {
    if (!ParseCodec(name)) throw UsageError("unknown --codec '" + name + "'; valid: raw, json, protobuf");
    if (std::find(out.begin(), out.end(), name) != out.end()) {
      throw UsageError("--codec=" + list + " names " + name + " twice");
    }
    out.push_back(name);
  }
  if (out.empty()) throw UsageError("--codec needs a codec, e.g. raw,json,protobuf");
  return out;
}

std::string RenderTransportList() {
  std::string out = "tier  transport  codec  peer    can run here\n";
  for (const auto& t : Transports()) {
    for (PeerKind p : kAllPeers) {
      const std::string why = PeerUnavailableReason(p, t);
      char buf[256];
      std::snprintf(buf, sizeof buf, "%-5s %-10s %-6s %-7s ", std::string(t.tier).c_str(),
                    std::string(t.name).c_str(), std::string(t.default_codec).c_str(),
                    std::string(PeerName(p)).c_str());
      out += buf + (why.empty() ? std::string("yes") : "no: " + why) + "\n";
    }
  }
  out += "\n";
  for (const auto& t : Transports()) {
    out += "  " + std::string(t.name) + ": " + std::string(t.summary) + "\n";
  }
  return out;
}

}  // namespace interop
