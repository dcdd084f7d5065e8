// The identity of a row: every field that makes two measurements the same
// measurement, one per knob. The table, JSON, CSV, Google Benchmark names and
// compare all take it from here, so a floor and its row never share a name.
// A knob to come (calls in flight, batch, rate) is one more field here, in
// Key(), and in the JSON and CSV columns.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace interop {

// A row measures a call; its floor measures the same bytes sent to a peer
// that only echoes them (--baseline); a reference is a well-known tool making
// the row's calls against the row's peer (wrk for HTTP), timed by itself.
enum class RowRole { kRow, kFloor, kReference };
std::string_view RoleName(RowRole role);  // "row", "floor", "reference"

struct RowId {
  std::string transport;       // registry name, variant included ("shm-spin")
  std::string caller = "cpp";  // who makes the calls: the C++ harness itself, or a reference tool (wrk)
  std::string peer;            // cpp, python, ruby
  std::string workload;        // add, score
  std::size_t features = 0;    // score: vector length; 0 for add
  std::string codec;           // what crosses: raw, json, protobuf, none (ffi)
  RowRole role = RowRole::kRow;
  // Calls in flight while measured (--inflight=K): every call is timed under
  // that load. 0: the default run (the closed loop, with a throughput run
  // at 16 in flight beside it).
  int inflight = 0;
  // Calls per message (--batch=B): each timed sample is one message of B
  // calls and its reply of B results. 0: single calls (no batch form).
  int batch = 0;

  // "add", "score/256": the workload as the tables show it.
  std::string WorkloadLabel() const;
  // Unique per row and stable across runs, e.g. "unix/cpp>python/score:256/raw",
  // "unix/cpp>python/score:256/raw/floor", "rest/wrk>cpp/add/json/reference",
  // "unix/cpp>python/add/raw/inflight:8", "unix/cpp>python/add/raw/batch:100":
  // compare's key, gbench's name.
  std::string Key() const;
  // The same measurement in the other role: a row's floor, a floor's row.
  RowId WithRole(RowRole other) const;

  bool operator==(const RowId&) const = default;
};

// The identity's fields, flat in a row's JSON record (and back).
void WriteRowId(const RowId& id, nlohmann::ordered_json& j);
RowId ReadRowId(const nlohmann::json& j);  // throws nlohmann::json::exception

}  // namespace interop
