// "host:port" parsing, shared by the TCP client (harness) and server (C++ peer).
#pragma once
#include <string>
namespace interop {
// Splits "host:port"; throws TransportError when malformed.
void ParseHostPort(const std::string& address, std::string* host, int* port);
// The same for a peer's --address: on error, says so on stderr and returns false.
bool ParseListenAddress(const std::string& address, std::string* host, int* port);
}  // namespace interop
