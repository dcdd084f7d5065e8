#include "bench/compare.h"

#include <algorithm>
#include <cstdio>

#include "bench/statistics.h"

namespace interop {
namespace {

const RowResult* Find(const Report& report, const RowId& id) {
  const auto it = std::find_if(report.rows.begin(), report.rows.end(), [&](const RowResult& r) { return r.id == id; });
  return it == report.rows.end() ? nullptr : &*it;
}

// One figure per repetition: its p50, or over the floor's p50 of the same
// pass (repetition i of a row and of its floor ran in pass i, side by side).
std::vector<double> Figures(const RowResult& row, const RowResult* floor) {
  std::vector<double> out;
  for (std::size_t i = 0; i < row.repetitions.size(); ++i) {
    const double p50 = row.repetitions[i].p50_ns;
    if (p50 <= 0) continue;
    if (!floor) {
      out.push_back(p50);
    } else if (i < floor->repetitions.size() && floor->repetitions[i].p50_ns > 0) {
      out.push_back(p50 / floor->repetitions[i].p50_ns);
    }
  }
  return out;
}

// An ok floor of this row in the report, for normalizing (nullptr: none).
const RowResult* OkFloorOf(const Report& report, const RowResult& row) {
  const RowResult* f = Find(report, row.id.WithRole(RowRole::kFloor));
  return f && Ok(*f) && f->calls > 0 ? f : nullptr;
}

void Judge(const RowResult& b, const RowResult& n, const Report& base, const Report& now, const CompareOptions& o,
           RowComparison& c) {
  const RowResult* base_floor = o.normalize ? OkFloorOf(base, b) : nullptr;
  const RowResult* new_floor = o.normalize ? OkFloorOf(now, n) : nullptr;
  if (!base_floor || !new_floor) base_floor = new_floor = nullptr;  // no floor on one side: raw p50s
  c.figure = base_floor ? "p50/floor" : "p50";
  const std::vector<double> x = Figures(b, base_floor), y = Figures(n, new_floor);
  const double up = 1 + o.threshold;
  if (static_cast<int>(std::min(x.size(), y.size())) >= kMinRepetitionsForTest) {
    c.ratio = Median(x) > 0 ? Median(y) / Median(x) : 0;
    c.p_value = MannWhitneyP(x, y);
    c.allowed = up;
    const bool real = *c.p_value < kCompareAlpha;
    c.verdict = real && c.ratio > up ? "slower" : (real && c.ratio < 1 / up ? "faster" : "same");
    return;
  }
  // Too few repetitions for a test: the whole-run figures, with the noise
  // both runs saw in this row widening what counts as "the same" (a run too
  // short to tell its spread adds none).
  const double was = base_floor ? b.latency_ns.p50 / base_floor->latency_ns.p50 : b.latency_ns.p50;
  const double is = new_floor ? n.latency_ns.p50 / new_floor->latency_ns.p50 : n.latency_ns.p50;
  c.ratio = was > 0 ? is / was : 0;
  c.allowed = up + b.p50_spread.value_or(0) + n.p50_spread.value_or(0);
  c.verdict = c.ratio > c.allowed ? "slower" : (c.ratio < 1 / c.allowed ? "faster" : "same");
}

bool NormalizedRun(const Report& r) {
  const auto& s = r.environment.find("settings");
  return s != r.environment.end() && s->is_object() && s->value("normalize", false);
}

}  // namespace

bool BothNormalized(const Report& base, const Report& now) { return NormalizedRun(base) && NormalizedRun(now); }

std::vector<RowComparison> CompareReports(const Report& base, const Report& now, const CompareOptions& o) {
  std::vector<RowComparison> out;
  for (const auto& b : base.rows) {
    if (!Ok(b)) continue;  // nothing to regress from
    RowComparison c;
    c.row = b.id.Key();
    c.base_p50_ns = b.latency_ns.p50;
    const RowResult* n = Find(now, b.id);
    // A row NEW's run was stopped in, or never got to, tells nothing either way.
    const bool not_measured = n ? n->status == RowStatus::kInterrupted : now.interrupted;
    if (not_measured) {
      c.verdict = "not measured";
    } else if (!n) {
      c.verdict = "missing";
    } else if (!Ok(*n)) {
      c.verdict = "failed";
    } else {
      c.new_p50_ns = n->latency_ns.p50;
      if (o.normalize && b.id.role == RowRole::kFloor) {
        // The yardstick its row is measured with, so not a verdict of its
        // own: a slowdown of the mechanism itself moves row and floor alike
        // and cancels in the ratio. Its raw change is judged and shown, to
        // be read, not counted (compare --raw counts it).
        CompareOptions raw = o;
        raw.normalize = false;
        Judge(b, *n, base, now, raw, c);
        c.verdict = c.verdict == "slower" ? "reference, raw slower" : "reference";
      } else {
        Judge(b, *n, base, now, o, c);
      }
    }
    out.push_back(c);
  }
  for (const auto& n : now.rows) {
    if (!Find(base, n.id)) {
      RowComparison c;
      c.row = n.id.Key();
      c.new_p50_ns = n.latency_ns.p50;
      c.verdict = "new";
      out.push_back(c);
    }
  }
  return out;
}

namespace {

bool Regressed(const RowComparison& c) {
  return c.verdict == "slower" || c.verdict == "failed" || c.verdict == "missing";
}

}  // namespace

bool AnyRegression(const std::vector<RowComparison>& rows) {
  return std::any_of(rows.begin(), rows.end(), Regressed);
}

namespace {

std::vector<std::string> Cells(const RowComparison& c) {
  char ratio[16] = "-", allowed[16] = "-", p[16] = "-";
  if (c.ratio > 0) std::snprintf(ratio, sizeof ratio, "%.2fx", c.ratio);
  if (c.allowed > 0) std::snprintf(allowed, sizeof allowed, "%.2fx", c.allowed);
  if (c.p_value) std::snprintf(p, sizeof p, *c.p_value < 0.001 ? "%.1e" : "%.3f", *c.p_value);
  return {c.row,
          c.base_p50_ns > 0 ? FormatNs(c.base_p50_ns) : "-",
          c.new_p50_ns > 0 ? FormatNs(c.new_p50_ns) : "-",
          c.figure.empty() ? "-" : c.figure,
          ratio,
          allowed,
          p,
          c.verdict == "slower" ? "SLOWER" : c.verdict};
}

}  // namespace

std::string RenderComparison(const std::vector<RowComparison>& rows, const CompareOptions& o,
                             const std::string& format) {
  const std::vector<std::string> head = {"row", "base p50", "new p50", "judged on", "ratio", "allowed", "p", "verdict"};
  std::vector<std::vector<std::string>> table;
  for (const auto& c : rows) table.push_back(Cells(c));
  std::string out;
  if (format == "md") {
    out += "| " + head[0];
    for (std::size_t i = 1; i < head.size(); ++i) out += " | " + head[i];
    out += " |\n|---|---:|---:|---|---:|---:|---:|---|\n";
    for (const auto& cells : table) {
      out += "| `" + cells[0] + "`";
      for (std::size_t i = 1; i < cells.size(); ++i) out += " | " + (i == 7 && cells[i] == "SLOWER" ? "**SLOWER**" : cells[i]);
      out += " |\n";
    }
    out += "\n";
  } else {
    std::vector<std::size_t> width(head.size());
    for (std::size_t i = 0; i < head.size(); ++i) {
      width[i] = head[i].size();
      for (const auto& cells : table) width[i] = std::max(width[i], DisplayWidth(cells[i]));
    }
    auto line = [&](const std::vector<std::string>& cells) {
      std::string l;
      for (std::size_t i = 0; i < cells.size(); ++i) {
        l += PadToWidth(cells[i], width[i], i >= 1 && i <= 6 && i != 3) + (i + 1 < cells.size() ? "  " : "");
      }
      while (!l.empty() && l.back() == ' ') l.pop_back();
      return l + "\n";
    };
    out += line(head);
    for (const auto& cells : table) out += line(cells);
  }
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "Rule: with %d or more repetitions on both sides, slower only when the Mann-Whitney U test gives "
                "p < %.2f and the median moved more than %.0f%%; with fewer, slower when the p50 moved more than "
                "%.0f%% plus both runs' measured p50 spread.%s\n",
                kMinRepetitionsForTest, kCompareAlpha, o.threshold * 100, o.threshold * 100,
                o.normalize ? " Rows are judged on their p50 over their floor's in the same pass; floors are the "
                              "yardstick (\"reference\"): their own p50s are judged and shown but not counted, "
                              "since a slowdown of the mechanism itself moves row and floor alike (--raw counts "
                              "them)."
                            : "");
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
  const auto regressed = std::count_if(rows.begin(), rows.end(), Regressed);
  std::snprintf(buf, sizeof buf, "%ld of %zu row(s) slower, failed or missing\n", static_cast<long>(regressed),
                rows.size());
  out += buf;
  return out;
}

}  // namespace interop
