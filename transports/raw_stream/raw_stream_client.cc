#include "transports/raw_stream/raw_stream_client.h"

#include <unistd.h>

#include <cstdio>

#include "common/fd_io.h"
#include "common/raw_frame.h"
#include "transports/echo/echo_check.h"

namespace interop {

void RawStreamClient::Attach(int read_fd, int write_fd, bool owns_fds) {
  read_fd_ = read_fd;
  write_fd_ = write_fd;
  owns_fds_ = owns_fds;
  reader_.emplace(read_fd);
}

void RawStreamClient::Close() {
  if (owns_fds_) {
    if (write_fd_ != read_fd_) CloseFd(write_fd_);
    CloseFd(read_fd_);
  }
  read_fd_ = write_fd_ = -1;
  reader_.reset();
}

void RawStreamClient::Encode(const Request& r) {
  if (r.op == Op::kAdd) {
    raw::EncodeAddRequest(frame_, r.id, r.x, r.y);
  } else {
    raw::EncodeScoreRequest(frame_, r.id, r.features, r.model);
  }
  frame_starts_.push_back(tx_.size());
  tx_.insert(tx_.end(), frame_.begin(), frame_.end());
}

void RawStreamClient::Send() {
  if (!WriteFull(write_fd_, tx_.data(), tx_.size())) {
    throw TransportError(ErrnoMessage("sending to the peer failed"));
  }
}

void RawStreamClient::Receive(const Request& request, std::size_t i, Reply& reply) {
  using S = FrameReader::Status;
  switch (reader_->Next()) {
    case S::kOk: break;
    case S::kEof:
    case S::kEofMidFrame: throw TransportError("the peer closed the connection");
    case S::kBadMagic: throw TransportError("the peer's reply has a bad magic or version");
    case S::kTooLong: throw TransportError("the peer's reply declares an oversize payload");
    case S::kIoError:
      errno = reader_->saved_errno();
      throw TransportError(ErrnoMessage("reading the reply failed"));
  }
  if (echo_) {
    const std::size_t end = i + 1 < frame_starts_.size() ? frame_starts_[i + 1] : tx_.size();
    CheckEcho(std::span(tx_).subspan(frame_starts_[i], end - frame_starts_[i]), reader_->frame(), request.id,
              reply);
    return;
  }
  const raw::Header& h = reader_->header();
  reply.id = h.id;
  switch (h.kind) {
    case raw::Kind::kAddReply:
      reply.error = raw::ParseAddReply(reader_->payload(), &reply.result);
      reply.kind = ReplyKind::kAdd;
      break;
    case raw::Kind::kScoreReply: {
      std::string_view label;
      reply.error = raw::ParseScoreReply(reader_->payload(), &reply.score, &label);
      reply.label.assign(label);
      reply.kind = ReplyKind::kScore;
      break;
    }
    case raw::Kind::kError: {
      const auto p = reader_->payload();
      reply.error.assign("peer error: ");
      reply.error.append(reinterpret_cast<const char*>(p.data()), p.size());
      break;
    }
    default: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "unexpected reply kind 0x%02x", static_cast<unsigned>(h.kind));
      reply.error = buf;
    }
  }
}

void RawStreamClient::Call(const Request& request, Reply& reply) {
  tx_.clear();
  frame_starts_.clear();
  Encode(request);
  Send();
  Receive(request, 0, reply);
}

void RawStreamClient::CallPipelined(std::span<const Request> requests, std::span<Reply> replies) {
  tx_.clear();
  frame_starts_.clear();
  for (const Request& r : requests) Encode(r);
  Send();
  for (std::size_t i = 0; i < replies.size(); ++i) Receive(requests[i], i, replies[i]);
}

}  // namespace interop
