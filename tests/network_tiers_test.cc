// The network and broker tiers against the real C++ peer: bad input gets an
// error and the peer keeps serving; Redis that cannot be had fails only the
// rows that need it; the private redis-server never outlives the run.
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "bench/peer_process.h"
#include "bench/reference.h"
#include "common/paths.h"
#include "interop.grpc.pb.h"
#include "test_support.h"
#include "transports/redis/redis_address.h"
#include "transports/registry.h"

namespace interop {
namespace {

using namespace testing_support;
using ::testing::HasSubstr;

std::unique_ptr<PeerProcess> StartCppPeer(Fixture& f, const std::string& transport, const std::string& address) {
  PeerLaunch launch;
  launch.argv = {BinaryDir() + "/peers/cpp/cpp_peer", "--transport=" + transport, "--address=" + address};
  launch.log_path = f.log_dir + "/" + transport + ".log";
  launch.ready_timeout_s = 10;
  return std::make_unique<PeerProcess>(launch);
}

TEST(RestPeer, BadInputGets4xxJsonAndThePeerKeepsServing) {
  Fixture f;
  auto peer = StartCppPeer(f, "rest", "127.0.0.1:0");
  std::string host;
  int port = 0;
  const auto colon = peer->endpoint().address.rfind(':');
  host = peer->endpoint().address.substr(0, colon);
  port = std::stoi(peer->endpoint().address.substr(colon + 1));
  httplib::Client c(host, port);
  auto wrong_type = c.Post("/add", R"({"id":1,"x":"a","y":1})", "application/json");
  ASSERT_TRUE(wrong_type);
  EXPECT_EQ(wrong_type->status, 400);
  EXPECT_THAT(wrong_type->body, HasSubstr("\"error\""));
  auto malformed = c.Post("/score", "{not json", "application/json");
  ASSERT_TRUE(malformed);
  EXPECT_EQ(malformed->status, 400);
  auto out_of_range = c.Post("/add", R"({"id":1,"x":9223372036854775808,"y":1})", "application/json");
  ASSERT_TRUE(out_of_range);
  EXPECT_EQ(out_of_range->status, 400);
  auto unknown = c.Post("/divide", "{}", "application/json");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  auto huge = c.Post("/score", std::string(5 << 20, ' '), "application/json");
  EXPECT_TRUE(!huge || huge->status == 413);
  httplib::Client again(host, port);  // a fresh connection, as after a 413 the server may close
  auto ok = again.Post("/add", R"({"id":7,"x":9223372036854775807,"y":1})", "application/json");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(ok->body, R"({"id":7,"result":-9223372036854775808})");
  EXPECT_EQ(peer->DescribeExit(0), "still running");
}

// --baseline: wrk beside a REST row, against the row's own peer, one run
// after each repetition; the row is then judged against it pair by pair.
TEST(RestPeer, WrkRunsBesideTheRowAsItsReference) {
  Fixture f;
  RowSpec spec = Spec("rest", PeerKind::kCpp);
  spec.with_reference = true;
  RunSettings s = Brief();
  s.repetitions = 2;
  s.duration_s = 1;  // wrk runs whole seconds
  RowResult row = RunRow(spec, s, f.context);
  ASSERT_EQ(row.status, RowStatus::kOk) << row.reason;
  ASSERT_EQ(row.reference_runs.size(), 2u) << row.reference_error;
  for (const auto& run : row.reference_runs) {
    EXPECT_GT(run.p50_ns, 0);
    EXPECT_GT(run.requests, 100u);  // a second of calls on one connection
  }
  const RowResult ref = ReferenceRowOf(row);
  EXPECT_EQ(ref.status, RowStatus::kOk) << ref.reason;
  EXPECT_EQ(ref.id.caller, "wrk");
  EXPECT_EQ(ref.placement.caller_cpu, row.placement.caller_cpu);
  ASSERT_TRUE(row.reference.has_value());
  EXPECT_EQ(row.reference->pairs, 2);
  EXPECT_GT(row.reference->median, 0);
  EXPECT_TRUE(std::filesystem::exists(f.log_dir + "/rest-cpp-wrk.log"));
  EXPECT_TRUE(ChildrenOf(::getpid()).empty()) << "wrk or the peer outlived the row";
}

TEST(GrpcPeer, InvalidArgumentsGetAStatusNotACrash) {
  Fixture f;
  auto peer = StartCppPeer(f, "grpc", "127.0.0.1:0");
  auto stub = ::interop::v1::Interop::NewStub(
      grpc::CreateChannel(peer->endpoint().address, grpc::InsecureChannelCredentials()));
  ::interop::v1::ScoreRequest bad;
  bad.set_id(1);
  bad.set_model(std::string(2000, 'm'));
  ::interop::v1::ScoreReply rep;
  grpc::ClientContext ctx1;
  EXPECT_EQ(stub->Score(&ctx1, bad, &rep).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  bad.set_model("\xC3(");  // invalid UTF-8 fails in protobuf's own parser or ours
  grpc::ClientContext ctx2;
  EXPECT_FALSE(stub->Score(&ctx2, bad, &rep).ok());
  ::interop::v1::AddRequest add;
  add.set_id(3);
  add.set_x(40);
  add.set_y(2);
  ::interop::v1::AddReply sum;
  grpc::ClientContext ctx3;
  ASSERT_TRUE(stub->Add(&ctx3, add, &sum).ok());
  EXPECT_EQ(sum.result(), 42);
  EXPECT_EQ(sum.id(), 3u);
}

TEST(RedisPeer, GarbageOnTheQueueGetsAnErrorReplyOrIsDropped) {
  Fixture f;
  const std::string url = f.services->RedisUrl();
  const std::string prefix = "interop:test:garbage";
  auto peer = StartCppPeer(f, "redis", url + "#" + prefix);
  RedisConnection c = ConnectRedis(ParseRedisUrl(url));
  auto cmd = [&](const std::string& a, const std::string& b, const std::string& v) {
    return RedisReplyPtr(static_cast<redisReply*>(redisCommand(c.get(), "%s %s %s", a.c_str(), b.c_str(), v.c_str())));
  };
  cmd("LPUSH", prefix + ":requests", "not json at all");  // no reply_to: logged and dropped
  cmd("LPUSH", prefix + ":requests", R"({"id":5,"op":"add","x":"a","y":1,"reply_to":")" + prefix + R"(:reply:g"})");
  RedisReplyPtr err(static_cast<redisReply*>(redisCommand(c.get(), "BRPOP %s 5", (prefix + ":reply:g").c_str())));
  ASSERT_TRUE(err && err->type == REDIS_REPLY_ARRAY);
  EXPECT_THAT(std::string(err->element[1]->str), HasSubstr("\"error\""));
  // No usable id: the error reply says "id": null (json_transports.md), never an id of 0.
  cmd("LPUSH", prefix + ":requests", R"({"op":"add","x":1,"y":2,"reply_to":")" + prefix + R"(:reply:g"})");
  RedisReplyPtr no_id(static_cast<redisReply*>(redisCommand(c.get(), "BRPOP %s 5", (prefix + ":reply:g").c_str())));
  ASSERT_TRUE(no_id && no_id->type == REDIS_REPLY_ARRAY);
  EXPECT_THAT(std::string(no_id->element[1]->str), HasSubstr("\"id\":null"));
  cmd("LPUSH", prefix + ":requests", R"({"id":6,"op":"add","x":40,"y":2,"reply_to":")" + prefix + R"(:reply:g"})");
  RedisReplyPtr ok(static_cast<redisReply*>(redisCommand(c.get(), "BRPOP %s 5", (prefix + ":reply:g").c_str())));
  ASSERT_TRUE(ok && ok->type == REDIS_REPLY_ARRAY);
  EXPECT_EQ(std::string(ok->element[1]->str), R"({"id":6,"result":42})");
  EXPECT_EQ(peer->DescribeExit(0), "still running");
}

TEST(RedisService, UnreachableRedisFailsOnlyTheRowsThatNeedIt) {
  Fixture f("redis://127.0.0.1:1");  // nothing listens on port 1
  const RowResult redis = RunRow(Spec("redis", PeerKind::kCpp), Brief(), f.context);
  EXPECT_EQ(redis.status, RowStatus::kFailed);
  EXPECT_THAT(redis.reason, HasSubstr("does not answer PING"));
  const RowResult unix_row = RunRow(Spec("unix", PeerKind::kCpp), Brief(), f.context);
  EXPECT_EQ(unix_row.status, RowStatus::kOk) << unix_row.reason;
  EXPECT_TRUE(ChildrenOf(::getpid()).empty());
}

// The private redis-server is a party of every Redis call: placed with the
// row by the --pin policy, given its CPUs back after it, its CPU counted.
TEST(RedisService, ThePrivateBrokerIsPlacedWithTheRowAndItsCpuCounted) {
  for (PinPolicy policy : {PinPolicy::kSame, PinPolicy::kSplit}) {
    Fixture f("", policy);
    if (f.pinning.cores() < 2) GTEST_SKIP() << "this machine lets the process use one core";
    f.services->RedisUrl();  // start it now, so the spy can watch it from the first call
    const pid_t broker = *f.services->PrivateRedisPid();
    const std::string before = CpusAllowed(broker);
    AffinitySpy spy(broker);
    RunSettings s = Brief();
    s.calls = 2000;
    const RowResult r = RunRow(Spec("redis", PeerKind::kPython), s, f.context);
    const std::vector<std::string> seen = spy.Stop();
    ASSERT_EQ(r.status, RowStatus::kOk) << r.reason;
    // Beside the caller either way: under same all three share its core.
    EXPECT_EQ(r.placement.broker_cpu, r.placement.caller_cpu);
    EXPECT_EQ(r.placement.peer_cpu == r.placement.caller_cpu, policy == PinPolicy::kSame);
    EXPECT_NE(std::find(seen.begin(), seen.end(), std::to_string(r.placement.broker_cpu)), seen.end())
        << "the broker never ran pinned to CPU " << r.placement.broker_cpu;
    EXPECT_EQ(CpusAllowed(broker), before) << "the broker keeps its pin after the row";
    ASSERT_TRUE(r.cpu_ns_per_call.broker.has_value());
    EXPECT_GT(*r.cpu_ns_per_call.broker, 0);
    EXPECT_THAT(r.note, HasSubstr("broker: the private redis-server on CPU"));
  }
}

TEST(RedisService, AnExternalBrokerIsNeitherPlacedNorCounted) {
  Fixture owner;  // its private server plays an external one for the other run
  Fixture f(owner.services->RedisUrl(), PinPolicy::kSame);
  const RowResult r = RunRow(Spec("redis", PeerKind::kCpp), Brief(), f.context);
  ASSERT_EQ(r.status, RowStatus::kOk) << r.reason;
  EXPECT_EQ(r.placement.broker_cpu, -1);
  EXPECT_FALSE(r.cpu_ns_per_call.broker.has_value());
  EXPECT_THAT(r.note, HasSubstr("external"));
}

TEST(RedisService, PrivateServerNeverOutlivesTheRunEvenWhenAPeerIsKilled) {
  {
    Fixture f;
    RunSettings s = Brief();
    s.calls = 0;
    s.duration_s = 5;
    ChildKiller killer("cpp_peer", std::chrono::milliseconds(250));
    const RowResult r = RunRow(Spec("redis-stream", PeerKind::kCpp), s, f.context);
    ASSERT_TRUE(killer.killed());
    EXPECT_EQ(r.status, RowStatus::kFailed);
    EXPECT_THAT(r.reason, HasSubstr("killed by signal 9"));
    // The private server is still up for other rows until the run ends...
    bool redis_alive = false;
    for (pid_t pid : ChildrenOf(::getpid())) redis_alive |= CommandName(pid).rfind("redis-server", 0) == 0;
    EXPECT_TRUE(redis_alive);
  }
  // ...and gone with it, socket file and all.
  EXPECT_TRUE(ChildrenOf(::getpid()).empty());
}

}  // namespace
}  // namespace interop
