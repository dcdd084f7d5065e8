#include "bench/row_id.h"

namespace interop {

std::string_view RoleName(RowRole role) {
  switch (role) {
    case RowRole::kRow: return "row";
    case RowRole::kFloor: return "floor";
    case RowRole::kReference: return "reference";
  }
  return "?";
}

std::string RowId::WorkloadLabel() const {
  std::string s = workload;
  // Appended in steps: "/" + std::to_string(...) trips GCC 12's -Wrestrict
  // false positive (GCC bug 105329).
  if (workload == "score") (s += '/') += std::to_string(features);
  return s;
}

std::string RowId::Key() const {
  std::string k = transport;
  k += '/';
  k += caller;
  k += '>';
  k += peer;
  k += '/';
  k += workload;
  if (workload == "score") (k += ':') += std::to_string(features);
  k += '/';
  k += codec;
  if (inflight > 0) (k += "/inflight:") += std::to_string(inflight);
  if (batch > 0) (k += "/batch:") += std::to_string(batch);
  if (role != RowRole::kRow) (k += '/') += RoleName(role);
  return k;
}

RowId RowId::WithRole(RowRole other) const {
  RowId id = *this;
  id.role = other;
  return id;
}

void WriteRowId(const RowId& id, nlohmann::ordered_json& j) {
  j["key"] = id.Key();
  j["transport"] = id.transport;
  j["caller"] = id.caller;
  j["peer"] = id.peer;
  j["workload"] = id.workload;
  j["features"] = id.features;
  j["codec"] = id.codec;
  j["inflight"] = id.inflight;
  j["batch"] = id.batch;
  j["role"] = RoleName(id.role);
}

RowId ReadRowId(const nlohmann::json& j) {
  RowId id;
  id.transport = j.at("transport");
  id.caller = j.at("caller");
  id.peer = j.at("peer");
  id.workload = j.at("workload");
  id.features = j.at("features");
  id.codec = j.at("codec");
  // Schema 4 has the identity's "inflight" beside "throughput_inflight";
  // before, "inflight" was the throughput run's and every row the default run.
  id.inflight = j.contains("throughput_inflight") ? j.at("inflight").get<int>() : 0;
  id.batch = j.value("batch", 0);  // since schema 6; before, every row made single calls
  const std::string role = j.at("role");
  bool known = false;
  for (RowRole r : {RowRole::kRow, RowRole::kFloor, RowRole::kReference}) {
    if (RoleName(r) == role) {
      id.role = r;
      known = true;
    }
  }
  if (!known) throw nlohmann::json::other_error::create(501, "unknown role " + role, &j);
  return id;
}

}  // namespace interop
