#include "common/frame_reader.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace interop {

FrameReader::Status FrameReader::Fill(std::size_t want) {
  if (buf_.size() < want) buf_.resize(want);
  while (filled_ < want) {
    const ssize_t r = ::read(fd_, buf_.data() + filled_, buf_.size() - filled_);
    if (r > 0) {
      filled_ += static_cast<std::size_t>(r);
    } else if (r == 0) {
      return filled_ == 0 ? Status::kEof : Status::kEofMidFrame;
    } else if (errno != EINTR) {
      saved_errno_ = errno;
      return Status::kIoError;
    }
  }
  return Status::kOk;
}

FrameReader::Status FrameReader::Next() {
  // Drop the previous frame and move any bytes already read behind it to the
  // front, so every frame starts at offset 0 (its doubles stay 8-byte aligned).
  if (consumed_ > 0) {
    std::memmove(buf_.data(), buf_.data() + consumed_, filled_ - consumed_);
    filled_ -= consumed_;
    consumed_ = 0;
  }
  if (Status s = Fill(raw::kHeaderSize); s != Status::kOk) return s;
  switch (raw::DecodeHeader(buf_.data(), &header_)) {
    case raw::HeaderStatus::kBadMagicOrVersion: return Status::kBadMagic;
    case raw::HeaderStatus::kTooLong: return Status::kTooLong;
    case raw::HeaderStatus::kOk: break;
  }
  const std::size_t total = raw::kHeaderSize + header_.payload_len;
  if (Status s = Fill(total); s != Status::kOk) return s == Status::kEof ? Status::kEofMidFrame : s;
  consumed_ = total;
  return Status::kOk;
}

}  // namespace interop
