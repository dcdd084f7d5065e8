// The peer command line (peers/README.md), as the C++ peer's servers see it.
#pragma once

#include <string>

namespace interop {

struct PeerOptions {
  std::string transport;
  std::string address;
  std::string codec;
  bool echo = false;  // baseline: send every frame back unchanged, no decoding
};

}  // namespace interop
