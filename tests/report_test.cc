// Exporters are pure functions of the records: checked against exact text.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "bench/report.h"

namespace interop {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// A row with every field set, its floor (flagged), and a failed row.
Report ThreeRows() {
  Report rep;
  rep.environment = {{"host", "h"}, {"date_utc", "2026-12-01T00:00:00Z"}, {"cores", 2},
                     {"build_type", "release (NDEBUG)"}};
  RowResult ok;
  ok.id = {"unix", "cpp", "python", "add", 0, "raw", RowRole::kRow};
  ok.tier = "4";
  ok.placement = {0, 1, -1, 1, "split"};
  ok.calls = 1000;
  ok.errors = 0;
  ok.latency_ns = {1000, 21000, 19000, 20500, 30000, 125000, 205000, 592000};
  ok.p50_spread = 0.02;
  ok.p50_low_ns = 20200;
  ok.p50_high_ns = 20600;
  ok.cpu_ns_per_call = {3000, 2500, std::nullopt};
  ok.calls_per_s = 228800;
  ok.throughput_inflight = 16;
  ok.floor_ratio = 1.7083;
  ok.note = "a remark";
  // Equal calls per repetition, as a run has them: the pooled mean (21000)
  // is then also the mean of the repetitions' means, as gbench.json's aggregate.
  ok.repetitions = {{500, 21100, 20400, 3100, 2400, std::nullopt}, {500, 20900, 20600, 2900, std::nullopt, std::nullopt}};
  RowResult floor = ok;
  floor.id.role = RowRole::kFloor;
  floor.latency_ns.p50 = 12000;
  floor.floor_ratio.reset();
  floor.calls_per_s = 0;
  floor.throughput_inflight = 0;
  floor.note.clear();
  floor.recheck_row_p50_ns = {20100, 20900};
  floor.recheck_floor_p50_ns = {11800, 12400};
  floor.above_row_cause = "a cause";
  RowResult bad;
  bad.id = {"tcp", "cpp", "ruby", "score", 256, "raw", RowRole::kRow};
  bad.tier = "4/5";
  bad.placement = {0, 0, -1, 1, "same"};
  bad.status = RowStatus::kFailed;
  bad.reason = "peer killed by signal 9 (Killed)";
  rep.rows = {ok, floor, bad};
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
  EXPECT_EQ(RenderConsole(ThreeRows()),
            "tier  transport  caller  peer    workload   codec  role   pin    calls  errors      p50     p99   p99.9     max  cpu/call    calls/s  vs floor  note\n"
            "4     unix       cpp     python  add        raw    row    split   1000       0  20.5 µs  125 µs  205 µs  592 µs   5.50 µs  228.8 k/s     1.71x  a remark\n"
            "4     unix       cpp     python  add        raw    floor  split   1000       0  12.0 µs  125 µs  205 µs  592 µs   5.50 µs          -         -  ABOVE ITS ROW: a cause\n"
            "4/5   tcp        cpp     ruby    score/256  raw    row    same       0       0        -       -       -       -         -          -         -  FAILED: peer killed by signal 9 (Killed)\n");
}

TEST(Report, MarkdownTable) {
  EXPECT_EQ(RenderMarkdown(ThreeRows()),
            "| tier | transport | caller | peer | workload | codec | role | pin | calls | errors | p50 | p99 | p99.9 | max | cpu/call | calls/s | vs floor | note |\n"
            "|---|---|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
            "| 4 | unix | cpp | python | add | raw | row | split | 1000 | 0 | 20.5 µs | 125 µs | 205 µs | 592 µs | 5.50 µs | 228.8 k/s | 1.71x | a remark |\n"
            "| 4 | unix | cpp | python | add | raw | floor | split | 1000 | 0 | 12.0 µs | 125 µs | 205 µs | 592 µs | 5.50 µs | - | - | ABOVE ITS ROW: a cause |\n"
            "| 4/5 | tcp | cpp | ruby | score/256 | raw | row | same | 0 | 0 | - | - | - | - | - | - | - | FAILED: peer killed by signal 9 (Killed) |\n");
}

TEST(Report, Csv) {
  EXPECT_EQ(RenderCsv(ThreeRows()),
            "tier,key,transport,caller,peer,workload,features,codec,inflight,batch,role,pin,status,calls,errors,"
            "calls_per_sample,p50_ns,p90_ns,p99_ns,p999_ns,max_ns,mean_ns,per_item_ns,request_bytes,reply_bytes,"
            "caller_cpu_ns_per_call,peer_cpu_ns_per_call,broker_cpu_ns_per_call,calls_per_s,throughput_inflight,"
            "floor_ratio,unstable,"
            "above_row_cause,reason,note,run\n"
            "\"4\",unix/cpp>python/add/raw,unix,cpp,python,add,0,raw,0,0,row,split,ok,1000,0,1,"
            "20500.0,30000.0,125000.0,205000.0,592000.0,21000.0,,,,3000.0,2500.0,,228800.0,16,1.708,false,\"\",\"\",\"a remark\",complete\n"
            "\"4\",unix/cpp>python/add/raw/floor,unix,cpp,python,add,0,raw,0,0,floor,split,ok,1000,0,1,"
            "12000.0,30000.0,125000.0,205000.0,592000.0,21000.0,,,,3000.0,2500.0,,0.0,0,,false,\"a cause\",\"\",\"\",complete\n"
            "\"4/5\",tcp/cpp>ruby/score:256/raw,tcp,cpp,ruby,score,256,raw,0,0,row,same,failed,0,0,1,"
            "0.0,0.0,0.0,0.0,0.0,0.0,,,,,,,0.0,0,,false,\"\",\"peer killed by signal 9 (Killed)\",\"\",complete\n");
}

TEST(Report, BatchRowsShowBAndTheCostPerCallInEveryFormat) {
  Report report = ThreeRows();
  report.rows.resize(1);
  EXPECT_THAT(RenderConsole(report), Not(HasSubstr("per call")));  // no batches: no B, no per-call column
  RowResult b100 = report.rows[0];
  b100.id.batch = 100;
  b100.latency_ns.p50 = 61000;  // a message of 100 calls: 610 ns a call
  report.rows.push_back(b100);
  const std::string console = RenderConsole(report);
  EXPECT_THAT(console, HasSubstr("codec    B  role"));
  EXPECT_THAT(console, HasSubstr("p50  per call"));
  EXPECT_THAT(console, HasSubstr("61.0 µs    610 ns"));
  EXPECT_THAT(console, HasSubstr("20.5 µs   20.5 µs"));  // single calls: a call is the message
  EXPECT_THAT(RenderMarkdown(report), HasSubstr("| codec | B | role |"));
  EXPECT_THAT(RenderCsv(report), HasSubstr("unix/cpp>python/add/raw/batch:100,unix,cpp,python,add,0,raw,0,100,row"));
  EXPECT_THAT(RenderCsv(report), HasSubstr(",21000.0,610.0,"));
  const std::string json = RenderJson(report);
  EXPECT_THAT(json, HasSubstr("\"batch\": 100"));
  EXPECT_THAT(json, HasSubstr("\"per_item_ns\": 610.0"));
  EXPECT_THAT(json, HasSubstr("\"items_per_s\": 22880000.0"));
  const Report back = ParseResultsJson(json);
  ASSERT_EQ(back.rows.size(), 2u);
  EXPECT_EQ(back.rows[0].id.batch, 0);
  EXPECT_EQ(back.rows[1].id.batch, 100);
  EXPECT_EQ(back.rows[1].id.Key(), "unix/cpp>python/add/raw/batch:100");
}

TEST(Report, RowsUnderLoadShowTheirKAndKeepItInEveryFormat) {
  Report report = ThreeRows();
  report.rows.resize(1);
  RowResult at8 = report.rows[0];
  at8.id.inflight = 8;
  at8.throughput_inflight = 8;
  report.rows.push_back(at8);
  report.rows[0].id.inflight = 1;
  report.rows[0].throughput_inflight = 1;
  const std::string console = RenderConsole(report);
  EXPECT_THAT(console, HasSubstr("codec  K  role"));
  EXPECT_THAT(console, HasSubstr("raw    8  row"));
  EXPECT_THAT(RenderMarkdown(report), HasSubstr("| codec | K | role |"));
  EXPECT_THAT(RenderCsv(report), HasSubstr("unix/cpp>python/add/raw/inflight:8,unix,cpp,python,add,0,raw,8,0,row"));
  const Report back = ParseResultsJson(RenderJson(report));
  ASSERT_EQ(back.rows.size(), 2u);
  EXPECT_EQ(back.rows[0].id.inflight, 1);
  EXPECT_EQ(back.rows[1].id.inflight, 8);
  EXPECT_EQ(back.rows[1].id.Key(), "unix/cpp>python/add/raw/inflight:8");
  EXPECT_EQ(back.rows[1].throughput_inflight, 8);
}

TEST(Report, AnOlderResultsFileReadsAsTheDefaultRunWithItsThroughputInflight) {
  // Schema 3: "inflight" was the throughput run's calls in flight, not an identity.
  auto j = nlohmann::json::parse(RenderJson(ThreeRows()));
  j["schema_version"] = 3;
  for (auto& row : j["rows"]) {
    row["inflight"] = row["throughput_inflight"];
    row.erase("throughput_inflight");
  }
  const Report back = ParseResultsJson(j.dump());
  EXPECT_EQ(back.rows[0].id.inflight, 0);
  EXPECT_EQ(back.rows[0].id.Key(), "unix/cpp>python/add/raw");
  EXPECT_EQ(back.rows[0].throughput_inflight, 16);
}

TEST(Report, GbenchJsonCarriesTheRowsOwnPerCallNumbers) {
  const auto j = nlohmann::json::parse(RenderGbenchJson(ThreeRows()));
  EXPECT_EQ(j.at("context").at("host_name"), "h");
  const auto& b = j.at("benchmarks");
  // Two repetitions each of the row and its floor, with their aggregates; the failed row has none.
  ASSERT_EQ(b.size(), 2u * (2 + 4));
  EXPECT_EQ(b[0].at("name"), "unix/cpp>python/add/raw");
  EXPECT_EQ(b[0].at("run_type"), "iteration");
  EXPECT_EQ(b[0].at("iterations"), 500);
  EXPECT_EQ(b[0].at("real_time"), 21100);
  EXPECT_EQ(b[0].at("cpu_time"), 3100);
  EXPECT_EQ(b[0].at("time_unit"), "ns");
  EXPECT_EQ(b[1].at("repetition_index"), 1);
  EXPECT_EQ(b[2].at("name"), "unix/cpp>python/add/raw_mean");
  EXPECT_EQ(b[2].at("aggregate_name"), "mean");
  EXPECT_DOUBLE_EQ(b[2].at("real_time").get<double>(), 21000);
  EXPECT_EQ(b[6].at("name"), "unix/cpp>python/add/raw/floor");
}

// Field by field, so a field that both writer and reader forgot cannot pass.
void ExpectSameRow(const RowResult& a, const RowResult& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.tier, b.tier);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.reason, b.reason);
  EXPECT_EQ(a.note, b.note);
  EXPECT_EQ(a.placement.caller_cpu, b.placement.caller_cpu);
  EXPECT_EQ(a.placement.peer_cpu, b.placement.peer_cpu);
  EXPECT_EQ(a.placement.broker_cpu, b.placement.broker_cpu);
  EXPECT_EQ(a.placement.watchdog_cpu, b.placement.watchdog_cpu);
  EXPECT_EQ(a.placement.label, b.placement.label);
  EXPECT_EQ(a.calls, b.calls);
  EXPECT_EQ(a.errors, b.errors);
  EXPECT_EQ(a.calls_per_sample, b.calls_per_sample);
  EXPECT_EQ(a.latency_ns.count, b.latency_ns.count);
  EXPECT_EQ(a.latency_ns.mean, b.latency_ns.mean);
  EXPECT_EQ(a.latency_ns.min, b.latency_ns.min);
  EXPECT_EQ(a.latency_ns.p50, b.latency_ns.p50);
  EXPECT_EQ(a.latency_ns.p90, b.latency_ns.p90);
  EXPECT_EQ(a.latency_ns.p99, b.latency_ns.p99);
  EXPECT_EQ(a.latency_ns.p999, b.latency_ns.p999);
  EXPECT_EQ(a.latency_ns.max, b.latency_ns.max);
  EXPECT_EQ(a.p50_spread, b.p50_spread);
  EXPECT_EQ(a.p50_low_ns, b.p50_low_ns);
  EXPECT_EQ(a.p50_high_ns, b.p50_high_ns);
  EXPECT_EQ(a.unstable, b.unstable);
  EXPECT_EQ(a.cpu_ns_per_call.caller, b.cpu_ns_per_call.caller);
  EXPECT_EQ(a.cpu_ns_per_call.peer, b.cpu_ns_per_call.peer);
  EXPECT_EQ(a.cpu_ns_per_call.broker, b.cpu_ns_per_call.broker);
  EXPECT_EQ(a.calls_per_s, b.calls_per_s);
  EXPECT_EQ(a.throughput_inflight, b.throughput_inflight);
  EXPECT_EQ(a.id.inflight, b.id.inflight);
  ASSERT_EQ(a.repetitions.size(), b.repetitions.size());
  for (std::size_t i = 0; i < a.repetitions.size(); ++i) {
    EXPECT_EQ(a.repetitions[i].calls, b.repetitions[i].calls);
    EXPECT_EQ(a.repetitions[i].mean_ns, b.repetitions[i].mean_ns);
    EXPECT_EQ(a.repetitions[i].p50_ns, b.repetitions[i].p50_ns);
    EXPECT_EQ(a.repetitions[i].caller_cpu_ns_per_call, b.repetitions[i].caller_cpu_ns_per_call);
    EXPECT_EQ(a.repetitions[i].peer_cpu_ns_per_call, b.repetitions[i].peer_cpu_ns_per_call);
    EXPECT_EQ(a.repetitions[i].broker_cpu_ns_per_call, b.repetitions[i].broker_cpu_ns_per_call);
  }
  EXPECT_EQ(a.floor_ratio, b.floor_ratio);
  EXPECT_EQ(a.recheck_row_p50_ns, b.recheck_row_p50_ns);
  EXPECT_EQ(a.recheck_floor_p50_ns, b.recheck_floor_p50_ns);
  EXPECT_EQ(a.recheck_interrupted, b.recheck_interrupted);
  EXPECT_EQ(a.above_row_cause, b.above_row_cause);
}

TEST(Report, JsonRoundTripsEveryField) {
  Report rep = ThreeRows();
  // The fields the table fixture leaves at their defaults, set too.
  rep.rows[0].calls_per_sample = 3;
  rep.rows[0].unstable = true;
  rep.rows[0].cpu_ns_per_call.broker = 1234.5;
  rep.rows[0].placement.broker_cpu = 0;
  rep.rows[0].repetitions[1].broker_cpu_ns_per_call = 1200;
  rep.rows[0].errors = 2;
  rep.rows[1].recheck_interrupted = true;
  rep.rows[2].p50_spread.reset();
  const Report back = ParseResultsJson(RenderJson(rep));
  ASSERT_EQ(back.rows.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    ExpectSameRow(back.rows[i], rep.rows[i]);
  }
  EXPECT_EQ(back.environment["host"], "h");
}

TEST(Report, JsonCarriesTheRequiredFields) {
  const auto j = nlohmann::json::parse(RenderJson(ThreeRows()));
  EXPECT_EQ(j.at("schema_version"), kResultsSchemaVersion);
  const auto& row = j.at("rows")[0];
  for (const char* key : {"key", "transport", "caller", "peer", "workload", "features", "codec", "role", "status",
                          "calls", "errors", "p50_ns", "p90_ns", "p99_ns", "p999_ns", "max_ns", "mean_ns",
                          "calls_per_s", "placement", "cpu_ns_per_call", "floor_ratio", "above_row_cause"}) {
    EXPECT_TRUE(row.contains(key)) << key;
  }
  EXPECT_EQ(row.at("cpu_ns_per_call"), nlohmann::json::parse(R"({"caller":3000.0,"peer":2500.0,"broker":null})"));
  EXPECT_EQ(row.at("placement"), nlohmann::json::parse(R"({"caller":0,"peer":1,"broker":null,"watchdog":1})"));
}

// A run stopped by a signal: every output says so at the top, the cut row is
// "interrupted" (not failed), and the rows that never ran are listed.
TEST(Report, AnInterruptedRunSaysSoInEveryOutput) {
  Report rep = ThreeRows();
  rep.rows[2].status = RowStatus::kInterrupted;
  rep.rows[2].reason = "the run was stopped by SIGINT while this row ran; what it had measured is not kept";
  rep.interrupted = true;
  rep.interrupted_by = "SIGINT";
  rep.not_run = {"rest/cpp>ruby/add/json"};
  const std::string line =
      "INTERRUPTED by SIGINT: 2 row(s) finished and kept, 1 cut short (marked interrupted), 1 not run";
  EXPECT_EQ(InterruptionLine(rep), line);
  EXPECT_EQ(RenderConsole(rep).substr(0, line.size() + 1), line + "\n");
  EXPECT_EQ(RenderMarkdown(rep).substr(0, line.size() + 6), "**" + line + "**\n\n");
  EXPECT_NE(RenderConsole(rep).find("INTERRUPTED: the run was stopped by SIGINT"), std::string::npos);
  const std::string csv = RenderCsv(rep);
  EXPECT_NE(csv.find(",same,interrupted,0,0,1,"), std::string::npos) << csv;
  EXPECT_EQ(csv.find(",complete\n"), std::string::npos) << csv;
  const auto j = nlohmann::json::parse(RenderJson(rep));
  EXPECT_EQ(j.at("interrupted"), true);
  EXPECT_EQ(j.at("interrupted_by"), "SIGINT");
  EXPECT_EQ(j.at("not_run"), nlohmann::json::parse(R"(["rest/cpp>ruby/add/json"])"));
  EXPECT_EQ(j.at("rows")[2].at("status"), "interrupted");
  const auto g = nlohmann::json::parse(RenderGbenchJson(rep));
  EXPECT_EQ(g.at("interrupted"), true);
  EXPECT_EQ(g.at("context").at("interrupted"), true);
  const Report back = ParseResultsJson(RenderJson(rep));
  EXPECT_TRUE(back.interrupted);
  EXPECT_EQ(back.interrupted_by, "SIGINT");
  EXPECT_EQ(back.not_run, rep.not_run);
  EXPECT_EQ(back.rows[2].status, RowStatus::kInterrupted);
  // A whole run says "interrupted": false, and reads back as such.
  EXPECT_EQ(nlohmann::json::parse(RenderJson(ThreeRows())).at("interrupted"), false);
  EXPECT_FALSE(ParseResultsJson(RenderJson(ThreeRows())).interrupted);
}

TEST(Report, ParseRejectsOtherFiles) {
  EXPECT_THROW(ParseResultsJson("{}"), std::runtime_error);
  EXPECT_THROW(ParseResultsJson("not json"), std::runtime_error);
  EXPECT_THROW(ParseResultsJson(R"({"schema_version": 1, "environment": {}, "rows": []})"), std::runtime_error);
}

}  // namespace
}  // namespace interop
