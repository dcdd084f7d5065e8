#include "bench/compare.h"

#include <algorithm>
#include <cstdio>

namespace interop {
std::vector<RowComparison> CompareReports(const Report& base, const Report& now, double threshold) {
  std::vector<RowComparison> out;
  for (const auto& b : base.rows) {
    if (!Ok(b)) continue;  // nothing to regress from
    RowComparison c;
    c.row = b.id.Key();
    c.base_p50_ns = b.latency_ns.p50;
    const auto it = std::find_if(now.rows.begin(), now.rows.end(), [&](const RowResult& n) { return n.id == b.id; });
    // A row NEW's run was stopped in, or never got to, tells nothing either way.
    const bool not_measured = it == now.rows.end() ? now.interrupted : it->status == RowStatus::kInterrupted;
    if (not_measured) {
      c.verdict = "not measured";
    } else if (it == now.rows.end()) {
      c.verdict = "missing";
    } else if (!Ok(*it)) {
      c.verdict = "failed";
    } else {
      c.new_p50_ns = it->latency_ns.p50;
      c.ratio = c.base_p50_ns > 0 ? c.new_p50_ns / c.base_p50_ns : 0;
      // Noise both runs saw in this row widens what counts as "the same"
      // (a run too short to tell its spread adds none).
      c.allowed = 1 + threshold + b.p50_spread.value_or(0) + it->p50_spread.value_or(0);
      c.verdict = c.ratio > c.allowed ? "slower" : (c.ratio < 1 / c.allowed ? "faster" : "same");
    }
    out.push_back(c);
  }
  for (const auto& n : now.rows) {
    const bool known = std::any_of(base.rows.begin(), base.rows.end(), [&](const RowResult& b) { return b.id == n.id; });
    if (!known) out.push_back({n.id.Key(), 0, n.latency_ns.p50, 0, 0, "new"});
  }
  return out;
}

bool AnyRegression(const std::vector<RowComparison>& rows) {
  return std::any_of(rows.begin(), rows.end(), [](const RowComparison& c) {
    return c.verdict == "slower" || c.verdict == "failed" || c.verdict == "missing";
  });
}

std::string RenderComparison(const std::vector<RowComparison>& rows, double threshold) {
  std::string out;
  char buf[256];
  std::size_t width = 3;
  for (const auto& c : rows) width = std::max(width, c.row.size());
  const int w = static_cast<int>(width);
  std::snprintf(buf, sizeof buf, "%-*s %10s %10s %7s %8s  %s\n", w, "row", "base p50", "new p50", "ratio", "allowed",
                "verdict");
  out += buf;
  for (const auto& c : rows) {
    const std::string base = c.base_p50_ns > 0 ? FormatNs(c.base_p50_ns) : "-";
    const std::string now = c.new_p50_ns > 0 ? FormatNs(c.new_p50_ns) : "-";
    char ratio[16] = "-", allowed[16] = "-";
    if (c.ratio > 0) std::snprintf(ratio, sizeof ratio, "%.2fx", c.ratio);
    if (c.allowed > 0) std::snprintf(allowed, sizeof allowed, "%.2fx", c.allowed);
    // Pad by display width: the µ sign is two bytes.
    auto pad = [](const std::string& s, std::size_t w) {
      std::size_t n = 0;
      for (unsigned char ch : s) n += (ch & 0xC0) != 0x80;
      return std::string(n < w ? w - n : 0, ' ') + s;
    };
    std::snprintf(buf, sizeof buf, "%-*s %s %s %7s %8s  %s\n", w, c.row.c_str(), pad(base, 10).c_str(),
                  pad(now, 10).c_str(), ratio, allowed, c.verdict.c_str());
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "threshold %.0f%% + each row's measured p50 spread in both runs\n", threshold * 100);
  out += buf;
  const auto unmeasured = std::count_if(rows.begin(), rows.end(), [](const RowComparison& c) {
    return c.verdict == "not measured";
  });
  if (unmeasured > 0) {
    std::snprintf(buf, sizeof buf,
                  "%ld row(s) not measured: NEW's run was interrupted before they finished; they count as neither "
                  "a regression nor a pass\n",
                  static_cast<long>(unmeasured));
    out += buf;
  }
  return out;
}

}  // namespace interop
