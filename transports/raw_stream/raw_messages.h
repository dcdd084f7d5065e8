// The harness's side of the raw frame (schemas/raw_frame.md): a Request as
// the frame it crosses in, and a reply frame back into a Reply. Shared by
// every client that speaks raw frames (unix, tcp, pipe, shm).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/raw_frame.h"
#include "transports/transport.h"

namespace interop {

// The bytes of the request's frame: an add or score request, or for a batch
// a batch request whose items are its calls. Writes into `out` (resized).
void EncodeRawRequest(const Request& request, std::vector<uint8_t>& out);

// The frame's size without building it (what a slot or a bound must hold).
std::size_t RawRequestFrameSize(const Request& request);

// Fills a reset reply from a reply frame: its id, and its result, score and
// label, or one reply item per batch item, or the peer's error. A reply of a
// kind no request gets, or a payload that does not parse, sets reply.error.
void DecodeRawReply(const raw::Header& header, std::span<const uint8_t> payload, Reply& reply);

// Why the raw frame of `request` cannot cross a stream (its payload above
// its kind's bound), or "".
std::string RawFrameTooLarge(const Request& request);

}  // namespace interop
