// Turns the CLI's selections into the rows to run, in spectrum order, and
// answers --list. Names are checked against the registry; an unknown name is
// an error that lists the valid ones.
#pragma once

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/runner.h"

namespace interop {

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// "unix,tcp", a family ("shm": every shm row) or "all" -> transports in
// registry order. variant_filters maps a family to the variant wanted
// ("shm" -> "spin"); "both" or no entry keeps every variant. Throws UsageError.
std::vector<const TransportSpec*> SelectTransports(
    const std::string& list, const std::map<std::string, std::string>& variant_filters = {});
// "cpp,ruby" or "all" -> peers in cpp, python, ruby order. Throws UsageError.
std::vector<PeerKind> SelectPeers(const std::string& list);

// Every transport x peer pair, in report order.
std::vector<RowSpec> PlanRows(const std::vector<const TransportSpec*>& transports,
                              const std::vector<PeerKind>& peers, const std::string& codec);

// The --list table: each transport x peer and whether it can run here (and why not).
std::string RenderTransportList();

}  // namespace interop
