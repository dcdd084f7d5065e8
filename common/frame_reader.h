// Buffered reader of raw frames from a byte stream. It reads whatever the
// stream has (usually a whole frame in one read), so a round trip costs one
// read syscall in the common case, like a hand-written ping-pong.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/raw_frame.h"

namespace interop {

class FrameReader {
 public:
  enum class Status {
    kOk,              // header() and payload() hold the next frame
    kEof,             // the stream ended cleanly between frames
    kEofMidFrame,     // the stream ended inside a frame
    kBadMagic,        // wrong magic or version: the stream cannot be resynchronised
    kTooLong,         // payload_len above its kind's bound (header() is valid, payload is not read)
    kIoError,         // read failed; saved_errno() says why
  };

  explicit FrameReader(int fd) : fd_(fd), buf_(64 * 1024) {}

  // Reads the next whole frame; the views stay valid until the next call.
  Status Next();

  const raw::Header& header() const { return header_; }
  std::span<const uint8_t> payload() const {
    return {buf_.data() + raw::kHeaderSize, header_.payload_len};
  }
  // The whole frame as received (header and payload), for echo loops.
  std::span<const uint8_t> frame() const {
    return {buf_.data(), raw::kHeaderSize + header_.payload_len};
  }
  int saved_errno() const { return saved_errno_; }
  // Bytes read from the stream behind the frame handed out last: the
  // requests a pipelining client has sent that this side already holds.
  std::size_t buffered_bytes() const { return filled_ - consumed_; }

 private:
  // Reads until at least `want` bytes are buffered. kOk, kEof (nothing buffered
  // and EOF), kEofMidFrame or kIoError.
  Status Fill(std::size_t want);

  int fd_;
  std::vector<uint8_t> buf_;
  std::size_t filled_ = 0;    // bytes in buf_ from offset 0
  std::size_t consumed_ = 0;  // size of the frame handed out last, dropped on the next call
  raw::Header header_{};
  int saved_errno_ = 0;
};

}  // namespace interop
