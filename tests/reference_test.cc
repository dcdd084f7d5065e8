// wrk as the HTTP rows' reference: reading its output (as Debian's wrk 4.1
// prints it, captured from a real run), and the row against it pair by pair.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bench/reference.h"

namespace interop {
namespace {

using ::testing::HasSubstr;

constexpr const char* kWrkOutput =
    "Running 1s test @ http://127.0.0.1:50925/add\n"
    "  1 threads and 1 connections\n"
    "  Thread Stats   Avg      Stdev     Max   +/- Stdev\n"
    "    Latency   504.64us    1.03ms  10.47ms   88.24%\n"
    "    Req/Sec     7.32k     3.61k   12.76k    60.00%\n"
    "  Latency Distribution\n"
    "     50%  101.00us\n"
    "     75%  152.00us\n"
    "     90%    1.79ms\n"
    "     99%    4.60ms\n"
    "  7269 requests in 1.00s, 0.90MB read\n"
    "Requests/sec:   7242.28\n"
    "Transfer/sec:      0.90MB\n";

TEST(Reference, WrksOutputIsRead) {
  const ReferenceRun r = ParseWrkOutput(kWrkOutput);
  EXPECT_DOUBLE_EQ(r.p50_ns, 101000);
  EXPECT_DOUBLE_EQ(r.p90_ns, 1.79e6);
  EXPECT_DOUBLE_EQ(r.p99_ns, 4.6e6);
  EXPECT_DOUBLE_EQ(r.max_ns, 10.47e6);
  EXPECT_EQ(r.requests, 7269u);
  EXPECT_DOUBLE_EQ(r.requests_per_s, 7242.28);
}

TEST(Reference, WrkRunsThatWentWrongAreErrors) {
  const std::string non_2xx = std::string(kWrkOutput) + "  Non-2xx or 3xx responses: 5634\n";
  EXPECT_THROW(ParseWrkOutput(non_2xx), std::runtime_error);
  const std::string socket = std::string(kWrkOutput) + "  Socket errors: connect 0, read 1, write 0, timeout 0\n";
  EXPECT_THROW(ParseWrkOutput(socket), std::runtime_error);
  EXPECT_THROW(ParseWrkOutput("unable to connect to 127.0.0.1:1 Connection refused\n"), std::runtime_error);
}

TEST(Reference, TheRowIsJudgedPairByPair) {
  RowResult row;
  row.id = {"rest", "cpp", "cpp", "add", 0, "json", RowRole::kRow};
  row.tier = "5";
  row.repetitions = {{100, 0, 40000, {}, {}, {}}, {100, 0, 60000, {}, {}, {}}, {100, 0, 33000, {}, {}, {}}};
  row.reference_runs = {{30000, 0, 0, 0, 1000, 30000}, {40000, 0, 0, 0, 900, 25000}, {30000, 0, 0, 0, 1100, 33000}};
  const RowResult ref = ReferenceRowOf(row);
  // Pairs: 40/30, 60/40, 33/30 -> 1.10, 1.33, 1.50: the median pair is 1.33.
  ASSERT_TRUE(row.reference.has_value());
  EXPECT_EQ(row.reference->tool, "wrk");
  EXPECT_EQ(row.reference->measure, "p50");
  EXPECT_EQ(row.reference->pairs, 3);
  EXPECT_NEAR(row.reference->median, 1.3333, 1e-3);
  EXPECT_NEAR(row.reference->low, 1.10, 1e-9);
  EXPECT_NEAR(row.reference->high, 1.50, 1e-9);
  EXPECT_EQ(ref.id.Key(), "rest/wrk>cpp/add/json/reference");
  EXPECT_EQ(ref.status, RowStatus::kOk);
  EXPECT_DOUBLE_EQ(ref.latency_ns.p50, 30000);  // the median run's
  EXPECT_EQ(ref.calls, 3000u);
}

// Under load wrk's latency leaves out the wait between a response and the
// next request on its connection, so the pairs compare calls/s instead.
TEST(Reference, UnderLoadTheRowIsJudgedOnCallsPerSecond) {
  RowResult row;
  row.id = {"rest", "cpp", "cpp", "add", 0, "json", RowRole::kRow};
  row.id.inflight = 8;
  row.repetitions = {{100, 0, 600000, {}, {}, {}, 12000}, {100, 0, 700000, {}, {}, {}, 13000},
                     {100, 0, 900000, {}, {}, {}, 9000}};
  row.reference_runs = {{90000, 0, 0, 0, 1000, 10000}, {90000, 0, 0, 0, 1000, 10000}, {90000, 0, 0, 0, 1000, 10000}};
  ReferenceRowOf(row);
  ASSERT_TRUE(row.reference.has_value());
  EXPECT_EQ(row.reference->measure, "calls_per_s");
  EXPECT_NEAR(row.reference->median, 1.2, 1e-9);  // 1.2, 1.3, 0.9
  EXPECT_NEAR(row.reference->low, 0.9, 1e-9);
  EXPECT_NEAR(row.reference->high, 1.3, 1e-9);
}

TEST(Reference, NoWrkRunIsAFailedReferenceWithItsReason) {
  RowResult row;
  row.id = {"rest", "cpp", "python", "add", 0, "json", RowRole::kRow};
  row.reference_error = "/usr/bin/wrk not found (apt-get install wrk)";
  const RowResult ref = ReferenceRowOf(row);
  EXPECT_EQ(ref.status, RowStatus::kFailed);
  EXPECT_THAT(ref.reason, HasSubstr("wrk not found"));
  EXPECT_FALSE(row.reference.has_value());
}

}  // namespace
}  // namespace interop
