// Each row against its floor: the ratio, and a flag with a cause on a floor
// above its row beyond the spread both measured.
#include <gtest/gtest.h>

#include "bench/floors.h"

namespace interop {
namespace {

RowResult Measured(RowRole role, double p50, double low, double high, double cpu) {
  RowResult r;
  r.id = {"unix", "cpp", "python", "add", 0, "raw", role};
  r.latency_ns.p50 = p50;
  r.p50_low_ns = low;
  r.p50_high_ns = high;
  r.calls = 1000;
  r.cpu_ns_per_call.caller = cpu / 2;
  r.cpu_ns_per_call.peer = cpu / 2;
  return r;
}

TEST(Floors, ARowGetsItsRatioToItsFloor) {
  std::vector<RowResult> rows = {Measured(RowRole::kRow, 3000, 2900, 3100, 5000),
                                 Measured(RowRole::kFloor, 1500, 1400, 1600, 3000)};
  AnnotateFloors(rows);
  ASSERT_TRUE(rows[0].floor_ratio.has_value());
  EXPECT_DOUBLE_EQ(*rows[0].floor_ratio, 2.0);
  EXPECT_TRUE(rows[1].above_row_cause.empty());
  EXPECT_FALSE(rows[1].floor_ratio.has_value());
}

TEST(Floors, AFloorAboveItsRowWithinTheSpreadIsNotFlagged) {
  std::vector<RowResult> rows = {Measured(RowRole::kRow, 3000, 2800, 3300, 5000),
                                 Measured(RowRole::kFloor, 3100, 3200, 3400, 3000)};
  AnnotateFloors(rows);
  EXPECT_LT(*rows[0].floor_ratio, 1.0);
  EXPECT_TRUE(rows[1].above_row_cause.empty());
}

TEST(Floors, AFloorAboveItsRowBeyondTheSpreadIsFlaggedWithACause) {
  const RowResult row = Measured(RowRole::kRow, 3000, 2900, 3100, 5000);
  RowResult floor = Measured(RowRole::kFloor, 3600, 3500, 3700, 3000);
  EXPECT_TRUE(AboveRowBeyondSpread(row, floor));
  // Re-measured in fresh pairs, the two overlap: this machine's pair modes.
  floor.recheck_row_p50_ns = {3050, 3400};
  floor.recheck_floor_p50_ns = {3300, 3500};
  std::vector<RowResult> rows = {row, floor};
  AnnotateFloors(rows);
  EXPECT_EQ(rows[1].above_row_cause.rfind("process-pair modes: ", 0), 0u) << rows[1].above_row_cause;
  // Every pair counts, the first one too (the floor's 3.60 us).
  EXPECT_NE(rows[1].above_row_cause.find("in 3 process pairs each the floor's p50 was 3.30 µs-3.60 µs"),
            std::string::npos) << rows[1].above_row_cause;
  // Above everything the row did in every pair, beyond one mode's width
  // (3400 x 1.10 = 3740): the echo loop itself.
  rows[1].latency_ns.p50 = 3800;
  rows[1].recheck_floor_p50_ns = {3900, 4000};
  rows[1].above_row_cause.clear();
  AnnotateFloors(rows);
  EXPECT_EQ(rows[1].above_row_cause.rfind("the echo loop is slower", 0), 0u) << rows[1].above_row_cause;
  // Never re-measured: said so, never left without a cause.
  rows[1].recheck_floor_p50_ns.clear();
  rows[1].above_row_cause.clear();
  AnnotateFloors(rows);
  EXPECT_FALSE(rows[1].above_row_cause.empty());
}

TEST(Floors, NoRatioAgainstAFailedFloorOrAnotherRowsFloor) {
  RowResult failed = Measured(RowRole::kFloor, 1500, 1400, 1600, 3000);
  failed.status = RowStatus::kFailed;
  RowResult other = Measured(RowRole::kFloor, 1500, 1400, 1600, 3000);
  other.id.peer = "ruby";
  std::vector<RowResult> rows = {Measured(RowRole::kRow, 3000, 2900, 3100, 5000), failed, other};
  AnnotateFloors(rows);
  EXPECT_FALSE(rows[0].floor_ratio.has_value());
}

}  // namespace
}  // namespace interop
