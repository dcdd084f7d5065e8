#include "transports/registry.h"

#include "transports/ffi/ffi_client.h"
#include "transports/file/file_client.h"
#include "transports/grpc/grpc_client.h"
#include "transports/pipe/pipe_client.h"
#include "transports/redis/redis_client.h"
#include "transports/rest/rest_client.h"
#include "transports/shm/shm_client.h"
#include "transports/tcp/tcp_client.h"
#include "transports/unix/unix_client.h"

namespace interop {

std::string_view PeerName(PeerKind peer) {
  switch (peer) {
    case PeerKind::kCpp: return "cpp";
    case PeerKind::kPython: return "python";
    case PeerKind::kRuby: return "ruby";
  }
  return "?";
}

const std::vector<TransportSpec>& Transports() {
  static const std::vector<TransportSpec> table = {
      FfiTransport(),
      ShmSpinTransport(),
      ShmFutexTransport(),
      UnixSocketTransport(),
      PipeTransport(),
      TcpTransport(),
      RestTransport(),
      GrpcTransport(),
      GrpcStreamTransport(),
      RedisQueueTransport(),
      RedisStreamTransport(),
      FileInotifyTransport(),
      FilePollTransport(),
  };
  return table;
}

const TransportSpec* FindTransport(std::string_view name) {
  for (const auto& t : Transports()) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string TransportNames() {
  std::string out;
  std::string_view last_family;
  for (const auto& t : Transports()) {
    if (!t.family.empty() && t.family != last_family) out += (out.empty() ? "" : ", ") + std::string(t.family);
    last_family = t.family;
    out += (out.empty() ? "" : ", ") + std::string(t.name);
  }
  return out;
}

}  // namespace interop
