#include "bench/row_id.h"

namespace interop {

std::string_view RoleName(RowRole role) { return role == RowRole::kFloor ? "floor" : "row"; }

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
  if (role == RowRole::kFloor) k += "/floor";
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
  const std::string role = j.at("role");
  if (role != "row" && role != "floor") throw nlohmann::json::other_error::create(501, "unknown role " + role, &j);
  id.role = role == "floor" ? RowRole::kFloor : RowRole::kRow;
  return id;
}

}  // namespace interop
