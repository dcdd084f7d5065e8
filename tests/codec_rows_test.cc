// Codecs (--codec) and bytes against the real peers: every transport that
// carries opaque bytes, with every peer, in raw, JSON and protobuf, as rows
// (add and score, every reply checked), as floors (the codec's bytes
// echoed) and with batches; and the bytes every row says crossed, checked
// where they are known exactly and against the kernel's own count.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "test_support.h"
#include "transports/codec/codec.h"
#include "transports/registry.h"
#include "transports/tcp/tcp_bytes.h"

namespace interop {
namespace {

using namespace testing_support;

struct CodecCase {
  std::string transport;
  PeerKind peer;
  std::string codec;
  std::string what;  // "add", "score", "floor" (add's), "batch" (of add)
};

void PrintTo(const CodecCase& c, std::ostream* os) {
  *os << c.transport << "/" << PeerName(c.peer) << "/" << c.codec << "/" << c.what;
}

std::string CaseName(const ::testing::TestParamInfo<CodecCase>& info) {
  std::string name = info.param.transport + "_" + std::string(PeerName(info.param.peer)) + "_" + info.param.codec +
                     "_" + info.param.what;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

// Every transport that speaks more than one codec, every peer, every codec.
std::vector<CodecCase> AllCases() {
  std::vector<CodecCase> cases;
  for (const auto& t : Transports()) {
    if (t.codecs.size() < 2) continue;
    for (PeerKind p : kAllPeers) {
      for (Codec c : t.codecs) {
        for (const char* what : {"add", "score", "floor", "batch"}) {
          cases.push_back({std::string(t.name), p, std::string(CodecName(c)), what});
        }
      }
    }
  }
  return cases;
}

class CodecRow : public ::testing::TestWithParam<CodecCase> {
 protected:
  void TearDown() override {
    f.services->Shutdown();
    EXPECT_TRUE(ChildrenOf(::getpid()).empty()) << "a peer outlived its row";
  }
  Fixture f;
};

TEST_P(CodecRow, RunsInItsCodecWithEveryReplyCheckedAndCountsItsBytes) {
  const CodecCase& c = GetParam();
  RowSpec spec = Spec(c.transport, c.peer, c.what == "floor" ? RowRole::kFloor : RowRole::kRow);
  spec.codec = c.codec;
  if (c.what == "batch") spec.batch = 5;
  RunSettings s = Brief(c.what == "score" ? Op::kScore : Op::kAdd);
  s.calls = 100;
  const RowResult r = RunRow(spec, s, f.context);
  ASSERT_EQ(r.status, RowStatus::kOk) << r.reason;
  EXPECT_EQ(r.errors, 0u);
  EXPECT_EQ(r.id.codec, c.codec);
  ASSERT_TRUE(r.request_bytes.has_value());
  ASSERT_TRUE(r.reply_bytes.has_value());
  EXPECT_FALSE(r.bytes_counted.empty());
  // A floor's reply is its request, byte for byte, where only the message crosses.
  if (c.what == "floor" && c.transport.rfind("redis", 0) != 0) {
    EXPECT_EQ(*r.request_bytes, *r.reply_bytes);
  }
  // A raw add is 40 bytes out and 32 back on a stream, in a slot or in a file.
  if (c.codec == "raw" && c.what == "add" && c.transport.rfind("redis", 0) != 0) {
    EXPECT_EQ(*r.request_bytes, 40.0);
    EXPECT_EQ(*r.reply_bytes, 32.0);
  }
}

INSTANTIATE_TEST_SUITE_P(Peers, CodecRow, ::testing::ValuesIn(AllCases()), CaseName);

// Every row says what crossed, except an in-process call, where nothing does.
TEST(Bytes, EveryTransportCountsWhatCrossedAndFfiNothing) {
  Fixture f;
  for (const auto& t : Transports()) {
    RunSettings s = Brief();
    s.calls = 50;
    s.throughput_s = 0;
    const RowResult r = RunRow(Spec(std::string(t.name), PeerKind::kCpp), s, f.context);
    ASSERT_EQ(r.status, RowStatus::kOk) << t.name << ": " << r.reason;
    if (t.wait_style == WaitStyle::kInProcess) {
      EXPECT_FALSE(r.request_bytes.has_value()) << t.name;
      continue;
    }
    ASSERT_TRUE(r.request_bytes && r.reply_bytes) << t.name;
    EXPECT_GT(*r.request_bytes, 20) << t.name;  // an add's two int64s at least, and an id
    EXPECT_GT(*r.reply_bytes, 10) << t.name;
    EXPECT_LT(*r.request_bytes, 1000) << t.name;
  }
  f.services->Shutdown();
}

// The kernel's count the gRPC rows take (tcp_info over sock_diag) against
// bytes written and read by hand on a loopback connection.
TEST(Bytes, TheKernelsTcpCountMatchesWhatWasWritten) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = ntohs(addr.sin_port);
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const int server = ::accept(listener, nullptr, nullptr);
  const auto before = TcpBytesTo(port);
  ASSERT_TRUE(before.has_value());
  std::vector<char> out(12345, 'x'), in(12345);
  ASSERT_EQ(::send(client, out.data(), out.size(), 0), static_cast<ssize_t>(out.size()));
  std::size_t got = 0;
  while (got < out.size()) got += static_cast<std::size_t>(::recv(server, in.data() + got, in.size() - got, 0));
  ASSERT_EQ(::send(server, out.data(), 777, 0), 777);
  ASSERT_EQ(::recv(client, in.data(), 777, MSG_WAITALL), 777);
  ::usleep(20000);  // the last ACK
  const auto after = TcpBytesTo(port);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->sent - before->sent, 12345u);
  EXPECT_EQ(after->received - before->received, 777u);
  for (int fd : {client, server, listener}) ::close(fd);
}

}  // namespace
}  // namespace interop
