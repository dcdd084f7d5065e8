#include "transports/tcp/tcp_bytes.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace interop {

namespace {

// Adds the bytes of every established TCP socket of `family` to
// 127.0.0.1:port (for AF_INET6, to ::ffff:127.0.0.1: gRPC makes dual-stack
// sockets); false when sock_diag cannot be asked.
bool AddTcpBytes(int family, int port, WireBytes& sum) {
  const int fd = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (fd < 0) return false;
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } ask{};
  ask.header.nlmsg_len = sizeof ask;
  ask.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  ask.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  ask.request.sdiag_family = static_cast<uint8_t>(family);
  ask.request.sdiag_protocol = IPPROTO_TCP;
  constexpr unsigned kEstablished = 1;  // TCP_ESTABLISHED (netinet/tcp.h would clash with linux/tcp.h)
  ask.request.idiag_states = 1u << kEstablished;
  ask.request.idiag_ext = 1u << (INET_DIAG_INFO - 1);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, &ask, sizeof ask, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) < 0) {
    ::close(fd);
    return false;
  }
  const uint16_t want_port = htons(static_cast<uint16_t>(port));
  const uint32_t loopback = htonl(INADDR_LOOPBACK);
  alignas(nlmsghdr) char buf[32768];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    int left = static_cast<int>(n);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
        ::close(fd);
        return h->nlmsg_type == NLMSG_DONE;
      }
      const auto* msg = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
      const uint32_t* dst = msg->id.idiag_dst;
      const bool to_loopback = family == AF_INET ? dst[0] == loopback
                                                 : dst[0] == 0 && dst[1] == 0 && dst[2] == htonl(0xffff) && dst[3] == loopback;
      if (msg->id.idiag_dport != want_port || !to_loopback) continue;
      int len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof *msg));
      for (auto* a = reinterpret_cast<rtattr*>(const_cast<inet_diag_msg*>(msg) + 1); RTA_OK(a, len);
           a = RTA_NEXT(a, len)) {
        if (a->rta_type != INET_DIAG_INFO) continue;
        tcp_info info{};  // a kernel's tcp_info may be shorter or longer than ours
        std::memcpy(&info, RTA_DATA(a), std::min<std::size_t>(RTA_PAYLOAD(a), sizeof info));
        sum.sent += info.tcpi_bytes_acked;
        sum.received += info.tcpi_bytes_received;
      }
    }
  }
  ::close(fd);
  return false;
}

}  // namespace

std::optional<WireBytes> TcpBytesTo(int port) {
  WireBytes sum;
  if (!AddTcpBytes(AF_INET, port, sum) || !AddTcpBytes(AF_INET6, port, sum)) return std::nullopt;
  return sum;
}

}  // namespace interop
