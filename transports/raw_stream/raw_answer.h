// The C++ peer's answer to one request frame (schemas/raw_frame.md): add,
// score, or a batch of them answered item by item, in the raw layout or, in
// the frame's other kinds, as a JSON or protobuf message. Shared by every
// server that speaks frames (unix, tcp, pipe, shm) and by the servers of
// Redis and files with --codec=raw.
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
// bad one), or an error frame for a request refused whole; for a JSON or
// protobuf request (0x20 / 0x30), a reply frame of its codec (0xA0 / 0xB0)
// with that codec's answer, an error in it for a bad message. `features` is
// scratch for an aligned copy of a request's doubles.
RawAnswer AnswerRawRequest(const raw::Header& header, std::span<const uint8_t> payload, std::vector<uint8_t>& out,
                           std::vector<double>& features);

}  // namespace interop
