// The bytes the kernel moved on this machine's TCP connections to one
// loopback port, for clients whose bytes a library writes (gRPC's HTTP/2
// frames, headers, window updates and pings): tcp_info's bytes_acked (sent
// and acknowledged) and bytes_received, summed over every established
// connection to 127.0.0.1:PORT, from the kernel's sock_diag (what `ss -ti`
// shows). The port is a row's own peer's, so those connections are the
// row's client's (and a tool's beside it, which runs between repetitions).
#pragma once

#include <optional>

#include "transports/transport.h"

namespace interop {

// Nothing when sock_diag cannot be asked (no netlink, a kernel without it).
std::optional<WireBytes> TcpBytesTo(int port);

}  // namespace interop
