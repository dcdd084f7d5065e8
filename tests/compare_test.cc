#include <gtest/gtest.h>

#include "bench/compare.h"

namespace interop {
namespace {

RowResult Row(const std::string& transport, double p50, double spread = 0, RowStatus status = RowStatus::kOk) {
  RowResult r;
  r.id = {transport, "cpp", "cpp", "add", 0, "raw", RowRole::kRow};
  r.status = status;
  r.latency_ns.p50 = p50;
  r.p50_spread = spread;
  return r;
}

TEST(Compare, VerdictsPerRow) {
  Report base, now;
  base.rows = {Row("unix", 1000), Row("tcp", 1000), Row("pipe", 1000), Row("shm-spin", 100), Row("rest", 1000)};
  now.rows = {Row("unix", 1050), Row("tcp", 1300), Row("pipe", 800), Row("shm-spin", 100, 0, RowStatus::kFailed), Row("grpc", 5)};
  const auto rows = CompareReports(base, now, 0.10);
  ASSERT_EQ(rows.size(), 6u);
  EXPECT_EQ(rows[0].verdict, "same");    // +5%, within 10%
  EXPECT_EQ(rows[1].verdict, "slower");  // +30%
  EXPECT_EQ(rows[2].verdict, "faster");
  EXPECT_EQ(rows[3].verdict, "failed");
  EXPECT_EQ(rows[4].verdict, "missing");
  EXPECT_EQ(rows[5].verdict, "new");
  EXPECT_TRUE(AnyRegression(rows));
}

TEST(Compare, AnInterruptedRunsCutAndUnrunRowsAreNotMeasured) {
  Report base, now;
  base.rows = {Row("unix", 1000), Row("tcp", 1000), Row("rest", 1000)};
  now.interrupted = true;
  now.interrupted_by = "SIGINT";
  now.rows = {Row("unix", 1000), Row("tcp", 0, 0, RowStatus::kInterrupted)};  // rest never ran
  now.not_run = {"rest/cpp>cpp/add/raw"};
  const auto rows = CompareReports(base, now, 0.10);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].verdict, "same");
  EXPECT_EQ(rows[1].verdict, "not measured");
  EXPECT_EQ(rows[2].verdict, "not measured");
  EXPECT_FALSE(AnyRegression(rows));  // neither a regression...
  const std::string text = RenderComparison(rows, 0.10);
  EXPECT_NE(text.find("2 row(s) not measured: NEW's run was interrupted"), std::string::npos) << text;
  // ...nor a pass that hides a slower row beside it.
  now.rows[0] = Row("unix", 2000);
  EXPECT_TRUE(AnyRegression(CompareReports(base, now, 0.10)));
  // A row missing from a whole run is still a regression.
  now.interrupted = false;
  now.rows = {Row("unix", 1000), Row("tcp", 1000)};
  EXPECT_EQ(CompareReports(base, now, 0.10)[2].verdict, "missing");
}

TEST(Compare, MeasuredNoiseWidensTheBand) {
  Report base, now;
  base.rows = {Row("unix", 1000, 0.15)};
  now.rows = {Row("unix", 1300, 0.10)};  // +30%, but the runs moved 15% and 10% themselves
  const auto rows = CompareReports(base, now, 0.10);
  EXPECT_EQ(rows[0].verdict, "same");
  EXPECT_DOUBLE_EQ(rows[0].allowed, 1.35);
  EXPECT_FALSE(AnyRegression(rows));
}

TEST(Compare, AFloorIsComparedWithItsFloorOnly) {
  Report base, now;
  RowResult floor = Row("unix", 500);
  floor.id.role = RowRole::kFloor;
  base.rows = {Row("unix", 1000), floor};
  now.rows = {Row("unix", 1000)};  // the floor did not run this time
  const auto rows = CompareReports(base, now, 0.10);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].verdict, "same");
  EXPECT_EQ(rows[1].row, "unix/cpp>cpp/add/raw/floor");
  EXPECT_EQ(rows[1].verdict, "missing");
}

TEST(Compare, IdenticalRunsPass) {
  Report base;
  base.rows = {Row("unix", 1000), Row("ffi", 3)};
  EXPECT_FALSE(AnyRegression(CompareReports(base, base, 0.0)));
}

}  // namespace
}  // namespace interop
