// Exporters are pure functions of the records: checked against exact text.
#include <gtest/gtest.h>

#include "bench/report.h"

namespace interop {
namespace {

Report TwoRows() {
  Report rep;
  rep.environment = {{"host", "h"}};
  RowResult ok;
  ok.transport = "unix";
  ok.tier = "4";
  ok.peer = "cpp";
  ok.workload = "add";
  ok.codec = "raw";
  ok.pin = "split";
  ok.calls = 1000;
  ok.latency_ns = {1000, 21000, 19000, 20500, 30000, 125000, 205000, 592000};
  ok.calls_per_s = 228800;
  ok.inflight = 16;
  ok.harness_cpu_ns_per_call = 3000;
  ok.peer_cpu_ns_per_call = 2500;
  RowResult bad;
  bad.transport = "tcp";
  bad.tier = "4/5";
  bad.peer = "ruby";
  bad.workload = "score";
  bad.features = 256;
  bad.codec = "raw";
  bad.pin = "same";
  bad.status = "failed";
  bad.reason = "peer killed by signal 9 (Killed)";
  rep.rows = {ok, bad};
  return rep;
}

TEST(Report, FormatNsPicksAUnitThatFits) {
  EXPECT_EQ(FormatNs(3.217), "3.22 ns");
  EXPECT_EQ(FormatNs(812), "812 ns");
  EXPECT_EQ(FormatNs(10500), "10.5 µs");
  EXPECT_EQ(FormatNs(3.2e6), "3.20 ms");
  EXPECT_EQ(FormatNs(1.234e9), "1.23 s");
  EXPECT_EQ(FormatRate(228800), "228.8 k/s");
  EXPECT_EQ(FormatRate(1.2e6), "1.20 M/s");
}

TEST(Report, ConsoleTable) {
  EXPECT_EQ(RenderConsole(TwoRows()),
            "tier  transport  peer  workload   codec  pin    calls  errors      p50     p99   p99.9     max  cpu/call    calls/s  note\n"
            "4     unix       cpp   add        raw    split   1000       0  20.5 µs  125 µs  205 µs  592 µs   5.50 µs  228.8 k/s\n"
            "4/5   tcp        ruby  score/256  raw    same       0       0        -       -       -       -         -          -  FAILED: peer killed by signal 9 (Killed)\n");
}

TEST(Report, MarkdownTable) {
  EXPECT_EQ(RenderMarkdown(TwoRows()),
            "| tier | transport | peer | workload | codec | pin | calls | errors | p50 | p99 | p99.9 | max | cpu/call | calls/s | note |\n"
            "|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
            "| 4 | unix | cpp | add | raw | split | 1000 | 0 | 20.5 µs | 125 µs | 205 µs | 592 µs | 5.50 µs | 228.8 k/s |  |\n"
            "| 4/5 | tcp | ruby | score/256 | raw | same | 0 | 0 | - | - | - | - | - | - | FAILED: peer killed by signal 9 (Killed) |\n");
}

TEST(Report, Csv) {
  EXPECT_EQ(RenderCsv(TwoRows()),
            "tier,transport,peer,workload,features,codec,pin,status,calls,errors,batch,"
            "p50_ns,p90_ns,p99_ns,p999_ns,max_ns,mean_ns,calls_per_s,inflight,unstable,reason\n"
            "\"4\",unix,cpp,add,0,raw,split,ok,1000,0,1,20500.0,30000.0,125000.0,205000.0,592000.0,21000.0,228800.0,16,false,\"\"\n"
            "\"4/5\",tcp,ruby,score,256,raw,same,failed,0,0,1,0.0,0.0,0.0,0.0,0.0,0.0,0.0,1,false,\"peer killed by signal 9 (Killed)\"\n");
}

TEST(Report, JsonRoundTripsEveryField) {
  const Report rep = TwoRows();
  const Report back = ParseResultsJson(RenderJson(rep));
  ASSERT_EQ(back.rows.size(), 2u);
  EXPECT_EQ(RowToJson(back.rows[0]), RowToJson(rep.rows[0]));
  EXPECT_EQ(RowToJson(back.rows[1]), RowToJson(rep.rows[1]));
  EXPECT_EQ(back.environment["host"], "h");
}

TEST(Report, JsonCarriesTheRequiredFields) {
  const auto j = nlohmann::json::parse(RenderJson(TwoRows()));
  EXPECT_EQ(j.at("schema_version"), kResultsSchemaVersion);
  for (const char* key : {"transport", "peer", "workload", "codec", "status", "calls", "errors", "p50_ns",
                          "p90_ns", "p99_ns", "p999_ns", "max_ns", "mean_ns", "calls_per_s"}) {
    EXPECT_TRUE(j.at("rows")[0].contains(key)) << key;
  }
}

TEST(Report, ParseRejectsOtherFiles) {
  EXPECT_THROW(ParseResultsJson("{}"), std::runtime_error);
  EXPECT_THROW(ParseResultsJson("not json"), std::runtime_error);
}

}  // namespace
}  // namespace interop
