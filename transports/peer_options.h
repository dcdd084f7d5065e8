// The peer command line (peers/README.md), as the C++ peer's servers see it.
#pragma once

#include <string>

namespace interop {

struct PeerOptions {
  std::string transport;
  std::string address;
  std::string codec;
  bool echo = false;  // baseline: send every frame back unchanged, no decoding
  // For the harness's own tests only (C++ peer): misbehave on purpose.
  //   no-ready        never print READY
  //   wrong-value     every 5th reply carries a wrong result/score
  //   wrong-id        every 5th reply carries the wrong id
  //   crash-after=N   abort() on request N+1
  //   hang-after=N    stop answering after N requests (the connection stays open)
  std::string fault;
};

}  // namespace interop
