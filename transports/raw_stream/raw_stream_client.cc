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
}

void RawStreamClient::Write() {
  if (!WriteFull(write_fd_, frame_.data(), frame_.size())) {
    throw TransportError(ErrnoMessage("sending to the peer failed"));
  }
}

void RawStreamClient::Read(uint64_t id, Reply& reply) {
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
    CheckEcho(frame_, reader_->frame(), id, reply);
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
  Encode(request);
  Write();
  Read(request.id, reply);
}

void RawStreamClient::Send(const Request& request) {
  if (echo_) return Transport::Send(request);  // floors time single calls
  Encode(request);
  Write();
}

void RawStreamClient::Receive(Reply& reply) {
  if (echo_) return Transport::Receive(reply);
  Read(0, reply);  // only an echo needs its request's id
}

}  // namespace interop
