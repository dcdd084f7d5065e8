// Every option value bench refuses, and the message it gives: the option's
// name and what it accepts. MakePlan is the one place options are checked;
// bench turns its UsageError into exit 2 (tests/cli_test.py checks that).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <functional>

#include "bench/options.h"

namespace interop {
namespace {

using ::testing::HasSubstr;

// The message MakePlan refuses these options with ("" if it accepts them).
std::string Refusal(const std::function<void(BenchOptions&)>& set, int cpus = 2) {
  BenchOptions o;
  o.transports = "unix";
  o.peers = "cpp";
  set(o);
  try {
    MakePlan(o, cpus);
    return {};
  } catch (const UsageError& e) {
    return e.what();
  }
}

TEST(Options, TheDefaultsAndOrdinaryValuesAreAccepted) {
  EXPECT_EQ(Refusal([](BenchOptions&) {}), "");
  EXPECT_EQ(Refusal([](BenchOptions& o) { o.transports = "all"; o.peers = "all"; }), "");
  EXPECT_EQ(Refusal([](BenchOptions& o) {
              o.workload = "score";
              o.features = "131072";
              o.calls = 1;
              o.warmup_s = 0.01;
              o.repetitions = 1000;
              o.throughput_s = 0;  // 0 skips the throughput run
              o.call_timeout_s = 0.5;
            }),
            "");
  EXPECT_EQ(Refusal([](BenchOptions& o) { o.transports = "shm"; o.shm_wait = "spin"; o.pin = "split"; }), "");
  EXPECT_EQ(Refusal([](BenchOptions& o) { o.transports = "redis"; o.redis_url = "unix:///tmp/r.sock"; }), "");
}

TEST(Options, TimesMustBePositiveAndBounded) {
  struct Case {
    const char* option;
    std::function<void(BenchOptions&, double)> set;
  };
  const Case cases[] = {
      {"--duration", [](BenchOptions& o, double v) { o.duration_s = v; }},
      {"--warmup", [](BenchOptions& o, double v) { o.warmup_s = v; }},
      {"--timeout", [](BenchOptions& o, double v) { o.call_timeout_s = v; }},
      {"--ready-timeout", [](BenchOptions& o, double v) { o.ready_timeout_s = v; }},
  };
  for (const Case& c : cases) {
    for (double bad : {0.0, -1.0, -5.0, 1e9, std::nan(""), double(INFINITY)}) {
      const std::string why = Refusal([&](BenchOptions& o) { c.set(o, bad); });
      EXPECT_THAT(why, HasSubstr(std::string(c.option) + "=")) << bad;
      EXPECT_THAT(why, HasSubstr("more than 0 and at most")) << c.option << " " << bad;
    }
  }
  for (double bad : {-1.0, -0.1, 1e9}) {
    const std::string why = Refusal([bad](BenchOptions& o) { o.throughput_s = bad; });
    EXPECT_THAT(why, HasSubstr("--throughput=")) << bad;
    EXPECT_THAT(why, HasSubstr("0 (skip) to 3600")) << bad;
  }
}

TEST(Options, CountsAndSizesMustBeInRange) {
  struct Case {
    const char* option;
    std::function<void(BenchOptions&, int64_t)> set;
    int64_t low, high;
  };
  const Case cases[] = {
      {"--calls", [](BenchOptions& o, int64_t v) { o.calls = v; }, 1, 1'000'000'000},
      {"--repetitions", [](BenchOptions& o, int64_t v) { o.repetitions = v; }, 1, 1000},
  };
  for (const Case& c : cases) {
    for (int64_t bad : {c.low - 1, int64_t{-1}, c.high + 1}) {
      const std::string why = Refusal([&](BenchOptions& o) { c.set(o, bad); });
      EXPECT_THAT(why, HasSubstr(std::string(c.option) + "=" + std::to_string(bad) + " is out of range: " +
                                 std::to_string(c.low) + " to " + std::to_string(c.high)));
    }
    EXPECT_EQ(Refusal([&](BenchOptions& o) { c.set(o, c.low); }), "") << c.option;
    EXPECT_EQ(Refusal([&](BenchOptions& o) { c.set(o, c.high); }), "") << c.option;
  }
}

TEST(Options, ListsWithUnknownOrRepeatedValuesAreRefused) {
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.transports = "unix,smoke-signal"; }),
              HasSubstr("unknown transport 'smoke-signal'; valid: all, ffi"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.transports = "unix,tcp,unix"; }),
              HasSubstr("--transport selects unix twice (as 'unix' and 'unix')"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.transports = "shm,shm-futex"; }),
              HasSubstr("--transport selects shm-futex twice (as 'shm' and 'shm-futex')"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.transports = "all,tcp"; }), HasSubstr("selects tcp twice"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.peers = "cpp,cpp"; }), HasSubstr("--peer selects cpp twice"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.peers = "all,ruby"; }), HasSubstr("--peer selects ruby twice"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.peers = "java"; }), HasSubstr("valid: all, cpp, python, ruby"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.transports = ","; }), HasSubstr("--transport needs a name"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.workload = "divide"; }), HasSubstr("valid: add, score"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.pin = "left"; }), HasSubstr("valid: auto, same, split, none"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.transports = "shm"; o.shm_wait = "nap"; }),
              HasSubstr("unknown --shm-wait 'nap'"));
}

TEST(Options, CombinationsThatCannotRunAreRefused) {
  // A spinning wait on one core: under --pin=same, or with one usable CPU.
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.transports = "shm-spin"; o.pin = "same"; }),
              HasSubstr("--pin=same puts caller and peer on one core, where shm-spin's spinning wait cannot run"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.transports = "all"; o.pin = "same"; }), HasSubstr("--shm-wait=futex"));
  EXPECT_EQ(Refusal([](BenchOptions& o) { o.transports = "all"; o.pin = "same"; o.shm_wait = "futex"; }), "");
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.transports = "shm"; }, /*cpus=*/1),
              HasSubstr("shm-spin spins while it waits and needs two CPUs; this process may use 1"));
  EXPECT_EQ(Refusal([](BenchOptions& o) { o.transports = "shm-futex"; }, /*cpus=*/1), "");
  // A codec no selected transport can carry.
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.transports = "rest,grpc"; o.codec = "raw"; }),
              HasSubstr("--codec=raw: no selected transport carries it (rest, grpc)"));
  // An option no selected row would use is refused, not silently dropped.
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.features = "64"; }),
              HasSubstr("--features has no effect here: it applies to --workload=score"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.throughput_s = 0.2; o.inflight = "1,8"; }),
              HasSubstr("--throughput has no effect with --inflight"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.normalize = true; o.inflight = "8"; }),
              HasSubstr("--inflight cannot be combined with --normalize yet"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.ci = true; o.inflight = "8"; }),
              HasSubstr("--inflight cannot be combined with --ci yet"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.shm_wait = "spin"; }), HasSubstr("--shm-wait has no effect here"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.file_wait = "poll"; }), HasSubstr("--file-wait has no effect here"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.redis_url = "redis://127.0.0.1:6379"; }),
              HasSubstr("--redis has no effect here"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.transports = "redis"; o.redis_url = "http://x"; }),
              HasSubstr("--redis=http://x is not a Redis URL"));
}

TEST(Options, TheCiPresetHasARowOfEveryTierWithItsFloor) {
  BenchOptions o;
  o.ci = true;
  const Plan plan = MakePlan(o, 2);
  EXPECT_EQ(plan.settings.repetitions, kCiPreset.repetitions);
  EXPECT_EQ(plan.settings.duration_s, kCiPreset.duration_s);
  EXPECT_TRUE(plan.settings.normalize);
  std::set<std::string> tiers_with_floor;
  for (const RowSpec& r : plan.rows) {
    EXPECT_EQ(r.peer, PeerKind::kCpp);
    EXPECT_FALSE(r.with_reference) << "no wrk beside a --ci row: it would double the run";
    if (r.role == RowRole::kFloor) tiers_with_floor.insert(std::string(r.transport->family.empty() ? r.transport->name : r.transport->family));
  }
  for (const char* tier : {"ffi", "shm", "unix", "pipe", "tcp", "rest", "grpc", "redis", "file"}) {
    EXPECT_TRUE(tiers_with_floor.count(tier)) << tier;
  }
  // Given with --ci, an option wins over the preset.
  o.repetitions = 20;
  o.transports = "unix";
  const Plan mine = MakePlan(o, 2);
  EXPECT_EQ(mine.settings.repetitions, 20);
  ASSERT_EQ(mine.rows.size(), 2u);  // unix and its floor
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.ci = true; o.quick = true; }), HasSubstr("--ci and --quick"));
}

TEST(Options, NormalizeMeasuresFloorsWithoutAReferenceTool) {
  BenchOptions o;
  o.transports = "rest";
  o.peers = "cpp";
  o.normalize = true;
  const Plan plan = MakePlan(o, 2);
  ASSERT_EQ(plan.rows.size(), 2u);
  EXPECT_EQ(plan.rows[1].role, RowRole::kFloor);
  EXPECT_FALSE(plan.rows[0].with_reference);
  o.normalize = false;
  o.baseline = true;
  EXPECT_TRUE(MakePlan(o, 2).rows[0].with_reference);  // --baseline: wrk beside the REST row
}

TEST(Options, APeerFaultGoesToTheRowsCppPeersOnly) {
  BenchOptions o;
  o.transports = "ffi,unix";
  o.peers = "cpp,python";
  o.baseline = true;
  o.peer_fault = "delay=1000";
  const Plan plan = MakePlan(o, 2);
  EXPECT_EQ(plan.settings.peer_fault, "delay=1000");
  int planted = 0;
  for (const RowSpec& r : plan.rows) {
    const bool has = std::find(r.extra_peer_args.begin(), r.extra_peer_args.end(), "--fault=delay=1000") !=
                     r.extra_peer_args.end();
    const bool wanted = r.role == RowRole::kRow && r.peer == PeerKind::kCpp && r.transport->name == "unix";
    EXPECT_EQ(has, wanted) << IdOf(r, plan.settings).Key();
    planted += has;
    if (r.transport->name == "ffi" && r.peer == PeerKind::kCpp && r.role == RowRole::kRow) {
      EXPECT_THAT(r.note, HasSubstr("--peer-fault not applied: no peer process"));
    }
  }
  EXPECT_EQ(planted, 1);
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.peer_fault = "delay=0"; }), HasSubstr("unknown --peer-fault 'delay=0'"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.peer_fault = "slow"; }), HasSubstr("delay=NS"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.peers = "python"; o.peer_fault = "delay=5"; }),
              HasSubstr("--peer-fault has no effect here"));
}

TEST(Options, AnInflightListIsCountsFromOneTo1024EachOnce) {
  EXPECT_EQ(ParseInflightList("1,8,64"), (std::vector<int>{1, 8, 64}));
  EXPECT_EQ(ParseInflightList("64,1"), (std::vector<int>{1, 64}));  // rows go in ascending K
  EXPECT_EQ(ParseInflightList("1024"), (std::vector<int>{1024}));
  for (const char* bad : {"0", "1025", "-1", "8x", "eight", "1.5"}) {
    const std::string why = Refusal([bad](BenchOptions& o) { o.inflight = bad; });
    EXPECT_THAT(why, HasSubstr(std::string("'") + bad + "' is not a count of calls in flight from 1 to 1024")) << bad;
  }
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.inflight = "8,1,8"; }), HasSubstr("--inflight=8,1,8 names 8 twice"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.inflight = ","; }), HasSubstr("--inflight needs a list of counts"));
}

TEST(Options, AnInflightListMakesOneRowPerKWithKInItsIdentity) {
  BenchOptions o;
  o.transports = "unix,ffi";
  o.peers = "cpp,python";
  o.inflight = "8,1";
  const Plan plan = MakePlan(o, 2);
  std::vector<std::string> keys;
  for (const RowSpec& row : plan.rows) keys.push_back(IdOf(row, plan.settings).Key());
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "ffi/cpp>cpp/add/none/inflight:1", "ffi/cpp>cpp/add/none/inflight:8",
                      "ffi/cpp>python/add/none/inflight:1", "ffi/cpp>python/add/none/inflight:8",
                      "unix/cpp>cpp/add/raw/inflight:1", "unix/cpp>cpp/add/raw/inflight:8",
                      "unix/cpp>python/add/raw/inflight:1", "unix/cpp>python/add/raw/inflight:8"}));
  EXPECT_EQ(plan.settings.throughput_s, 0);  // each row's calls/s is its own run's
  // A client that cannot keep calls in flight says so at K > 1, never silently.
  for (const RowSpec& row : plan.rows) {
    const bool sequential = row.inflight > 1 && row.transport->name == "ffi";
    EXPECT_EQ(row.note.find("cannot keep calls in flight yet") != std::string::npos, sequential)
        << IdOf(row, plan.settings).Key();
  }
  // Without the list, the default run: no K in the key.
  o.inflight.reset();
  EXPECT_EQ(IdOf(MakePlan(o, 2).rows[0], plan.settings).Key(), "ffi/cpp>cpp/add/none");
}

TEST(Options, WithBaselineUnderLoadOnlyTheClosedLoopHasAFloorAndWrkRunsAtEveryK) {
  BenchOptions o;
  o.transports = "rest";
  o.peers = "cpp";
  o.inflight = "1,8";
  o.baseline = true;
  const Plan plan = MakePlan(o, 2);
  std::vector<std::string> keys;
  for (const RowSpec& row : plan.rows) keys.push_back(IdOf(row, plan.settings).Key());
  EXPECT_EQ(keys, (std::vector<std::string>{"rest/cpp>cpp/add/json/inflight:1", "rest/cpp>cpp/add/json/inflight:1/floor",
                                            "rest/cpp>cpp/add/json/inflight:8"}));
  EXPECT_TRUE(plan.rows[0].with_reference);
  EXPECT_FALSE(plan.rows[1].with_reference);
  EXPECT_TRUE(plan.rows[2].with_reference);  // wrk -t1 -c8 beside it
  EXPECT_THAT(plan.rows[2].note, HasSubstr("no floor under load"));
}

TEST(Options, AFeaturesListMakesOneScoreRowPerSize) {
  for (const char* bad : {"0", "131073", "-1", "4k"}) {
    EXPECT_THAT(Refusal([bad](BenchOptions& o) { o.workload = "score"; o.features = bad; }),
                HasSubstr(std::string("'") + bad + "' is not a count of features from 1 to 131072"))
        << bad;
  }
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.workload = "score"; o.features = "16,16"; }), HasSubstr("names 16 twice"));
  BenchOptions o;
  o.transports = "unix";
  o.peers = "cpp";
  o.workload = "score";
  o.features = "4096,16";
  const Plan plan = MakePlan(o, 2);
  std::vector<std::string> keys;
  for (const RowSpec& row : plan.rows) keys.push_back(IdOf(row, plan.settings).Key());
  EXPECT_EQ(keys, (std::vector<std::string>{"unix/cpp>cpp/score:16/raw", "unix/cpp>cpp/score:4096/raw"}));
  EXPECT_EQ(RowSettings(plan.rows[1], plan.settings).features, 4096u);
  // One size is the settings' own, as before.
  o.features = "512";
  EXPECT_EQ(MakePlan(o, 2).settings.features, 512u);
}

TEST(Options, ACodecListMakesOneRowPerCodecWhereItCanCrossAndNamesTheRestOnce) {
  BenchOptions o;
  o.transports = "unix,rest,redis";
  o.peers = "cpp";
  o.codec = "raw,json,protobuf";
  const Plan plan = MakePlan(o, 2);
  std::vector<std::string> keys;
  for (const RowSpec& row : plan.rows) keys.push_back(IdOf(row, plan.settings).Key());
  EXPECT_EQ(keys, (std::vector<std::string>{"unix/cpp>cpp/add/raw", "unix/cpp>cpp/add/json", "unix/cpp>cpp/add/protobuf",
                                            "rest/cpp>cpp/add/json", "redis/cpp>cpp/add/raw", "redis/cpp>cpp/add/json",
                                            "redis/cpp>cpp/add/protobuf"}));
  EXPECT_EQ(plan.not_applicable, (std::vector<std::string>{"rest: json only, not raw, protobuf"}));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.codec = "xml"; }), HasSubstr("unknown --codec 'xml'; valid: raw, json, protobuf"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.codec = "raw,raw"; }), HasSubstr("names raw twice"));
  // A message too large for one codec on one transport is refused, naming both.
  EXPECT_THAT(Refusal([](BenchOptions& o) {
                o.transports = "unix";
                o.codec = "json";
                o.batch = "100000";
                o.throughput_s = 0;
              }),
              HasSubstr("--batch=100000 of add cannot cross unix in json: its JSON message would be"));
}

TEST(Options, ABatchListIsCountsFromOneTo100000EachOnce) {
  EXPECT_EQ(ParseBatchList("1000,1,10"), (std::vector<int>{1, 10, 1000}));
  EXPECT_EQ(ParseBatchList("100000"), (std::vector<int>{100000}));
  for (const char* bad : {"0", "100001", "-3", "10k", "1e3"}) {
    const std::string why = Refusal([bad](BenchOptions& o) { o.batch = bad; });
    EXPECT_THAT(why, HasSubstr(std::string("'") + bad + "' is not a count of calls per message from 1 to 100000"))
        << bad;
  }
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.batch = "10,10"; }), HasSubstr("--batch=10,10 names 10 twice"));
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.batch = ""; }), HasSubstr("--batch needs a list of counts"));
}

TEST(Options, ABatchListMakesOneRowPerBWithBInItsIdentityAndKWithinIt) {
  BenchOptions o;
  o.transports = "unix";
  o.peers = "cpp";
  o.batch = "100,1";
  o.inflight = "1,8";
  o.baseline = true;
  const Plan plan = MakePlan(o, 2);
  std::vector<std::string> keys;
  for (const RowSpec& row : plan.rows) keys.push_back(IdOf(row, plan.settings).Key());
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "unix/cpp>cpp/add/raw/inflight:1/batch:1", "unix/cpp>cpp/add/raw/inflight:1/batch:1/floor",
                      "unix/cpp>cpp/add/raw/inflight:8/batch:1", "unix/cpp>cpp/add/raw/inflight:1/batch:100",
                      "unix/cpp>cpp/add/raw/inflight:1/batch:100/floor", "unix/cpp>cpp/add/raw/inflight:8/batch:100"}));
  o.inflight.reset();
  o.baseline = false;
  EXPECT_EQ(IdOf(MakePlan(o, 2).rows[1], plan.settings).Key(), "unix/cpp>cpp/add/raw/batch:100");
}

TEST(Options, ABatchNoSelectedTransportCanCarryIsRefusedBeforeTheRun) {
  // 100,000 adds: 2.4 MB as raw frames, 5.7 MB of JSON, above the 4 MiB body bound.
  const std::string json = Refusal([](BenchOptions& o) {
    o.transports = "unix,redis";
    o.batch = "10,100000";
    o.throughput_s = 0;
  });
  EXPECT_THAT(json, HasSubstr("--batch=100000 of add cannot cross redis in json: its JSON body would be"));
  EXPECT_THAT(json, HasSubstr("above the bound of 4194304"));
  // Raw frames carry 16 MiB: 8,000 scores of 256 (16.58 MB) fit, 8,200 (16.99 MB) do not.
  EXPECT_EQ(Refusal([](BenchOptions& o) { o.workload = "score"; o.batch = "8000"; o.throughput_s = 0; }), "");
  EXPECT_THAT(Refusal([](BenchOptions& o) {
                o.workload = "score";
                o.batch = "8200";
                o.throughput_s = 0;
              }),
              HasSubstr("--batch=8200 of score/256 cannot cross unix in raw: its raw frame's payload would be 16990408 bytes"));
  // Protobuf: the same bound, measured on the encoded message.
  EXPECT_THAT(Refusal([](BenchOptions& o) {
                o.transports = "grpc";
                o.workload = "score";
                o.batch = "8500";
                o.throughput_s = 0;
              }),
              HasSubstr("cannot cross grpc in protobuf: its protobuf message would be"));
}

TEST(Options, TheCallsHeldAtOnceAreBounded) {
  // K messages of B calls are all kept until checked: 64 x 100,000 is too many.
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.batch = "100000"; o.inflight = "64"; }),
              HasSubstr("holds 6400000 calls at once; at most 1048576"));
  // The default run's throughput run keeps 16 in flight.
  EXPECT_THAT(Refusal([](BenchOptions& o) { o.batch = "100000"; }), HasSubstr("with 16 messages in flight"));
}

}  // namespace
}  // namespace interop
