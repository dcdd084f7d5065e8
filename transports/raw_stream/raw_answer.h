// The C++ peer's answer to one raw request frame (schemas/raw_frame.md):
// add, score, or a batch of them answered item by item. Shared by every
// server that speaks raw frames (unix, tcp, pipe, shm).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/raw_frame.h"

namespace interop {

struct RawAnswer {
  std::size_t calls = 0;  // calls the request carried (1, or a batch's count; 0 if refused whole)
  std::string error;      // why the request was refused whole (logged by the caller), or empty
};

// Writes the whole reply frame to `out` (cleared first): an add or score
// reply, a batch reply with one item per request item (an error item for a
// bad one), or an error frame for a request refused whole. `features` is
// scratch for an aligned copy of a request's doubles.
RawAnswer AnswerRawRequest(const raw::Header& header, std::span<const uint8_t> payload, std::vector<uint8_t>& out,
                           std::vector<double>& features);

}  // namespace interop
