#include "transports/tcp/tcp_address.h"

#include <charconv>
#include <cstdio>

#include "transports/transport.h"

namespace interop {

void ParseHostPort(const std::string& address, std::string* host, int* port) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) throw TransportError("expected host:port, got '" + address + "'");
  *host = address.substr(0, colon);
  const char* first = address.data() + colon + 1;
  const char* last = address.data() + address.size();
  auto [ptr, ec] = std::from_chars(first, last, *port);
  if (ec != std::errc() || ptr != last || *port < 0 || *port > 65535) {
    throw TransportError("bad port in '" + address + "'");
  }
}

bool ParseListenAddress(const std::string& address, std::string* host, int* port) {
  try {
    ParseHostPort(address, host, port);
    return true;
  } catch (const TransportError& e) {
    std::fprintf(stderr, "cpp peer: %s\n", e.what());
    return false;
  }
}

}  // namespace interop
