// "host:port" parsing, shared by the TCP client (harness) and server (C++ peer).
#pragma once
#include <string>
namespace interop {
// Splits "host:port"; throws TransportError when malformed.
void ParseHostPort(const std::string& address, std::string* host, int* port);
}  // namespace interop
