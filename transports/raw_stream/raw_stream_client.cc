#include "transports/raw_stream/raw_stream_client.h"

#include <unistd.h>

#include <cstdio>

#include "common/fd_io.h"
#include "common/raw_frame.h"

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
  tx_.insert(tx_.end(), frame_.begin(), frame_.end());
}

void RawStreamClient::Send() {
  if (!WriteFull(write_fd_, tx_.data(), tx_.size())) {
    throw TransportError(ErrnoMessage("sending to the peer failed"));
  }
  tx_.clear();
}

void RawStreamClient::Receive(Op op, Reply& reply) {
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
  const raw::Header& h = reader_->header();
  reply.id = h.id;
  reply.error.clear();
  std::string err;
  switch (h.kind) {
    case raw::Kind::kAddReply:
      err = raw::ParseAddReply(reader_->payload(), &reply.result);
      break;
    case raw::Kind::kScoreReply: {
      std::string_view label;
      err = raw::ParseScoreReply(reader_->payload(), &reply.score, &label);
      reply.label.assign(label);
      break;
    }
    case raw::Kind::kError: {
      const auto p = reader_->payload();
      reply.error.assign("peer error: ");
      reply.error.append(reinterpret_cast<const char*>(p.data()), p.size());
      return;
    }
    default: {
      char buf[64];
      std::snprintf(buf, sizeof buf, "unexpected reply kind 0x%02x", static_cast<unsigned>(h.kind));
      err = buf;
    }
  }
  // A well-formed reply of the other kind would leave the previous answer in
  // the reused Reply and could pass for a right one.
  if (err.empty() && (h.kind == raw::Kind::kAddReply) != (op == Op::kAdd)) err = "reply of the wrong kind";
  if (!err.empty()) reply.error = std::move(err);
}

void RawStreamClient::Call(const Request& request, Reply& reply) {
  Encode(request);
  Send();
  Receive(request.op, reply);
}

void RawStreamClient::CallPipelined(std::span<const Request> requests, std::span<Reply> replies) {
  for (const Request& r : requests) Encode(r);
  Send();
  for (std::size_t i = 0; i < replies.size(); ++i) Receive(requests[i].op, replies[i]);
}

}  // namespace interop
