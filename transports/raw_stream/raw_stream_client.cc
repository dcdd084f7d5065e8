#include "transports/raw_stream/raw_stream_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "common/fd_io.h"
#include "common/raw_frame.h"
#include "transports/echo/echo_check.h"
#include "transports/raw_stream/raw_messages.h"

namespace interop {

void RawStreamClient::Attach(int read_fd, int write_fd, bool owns_fds) {
  read_fd_ = read_fd;
  write_fd_ = write_fd;
  owns_fds_ = owns_fds;
  reader_.emplace(read_fd);
  // A pipe's write end is ours alone: it may be non-blocking (Write()). A
  // socket is one fd both ways, so there each send says so instead.
  if (write_fd != read_fd) ::fcntl(write_fd, F_SETFL, ::fcntl(write_fd, F_GETFL) | O_NONBLOCK);
}

void RawStreamClient::Close() {
  if (owns_fds_) {
    if (write_fd_ != read_fd_) CloseFd(write_fd_);
    CloseFd(read_fd_);
  }
  read_fd_ = write_fd_ = -1;
  reader_.reset();
  ahead_.clear();
}

void RawStreamClient::Write() {
  wire_.sent += frame_.size();
  const bool socket = write_fd_ == read_fd_;
  std::size_t sent = 0;
  while (sent < frame_.size()) {
    const ssize_t w = socket ? ::send(write_fd_, frame_.data() + sent, frame_.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL)
                             : ::write(write_fd_, frame_.data() + sent, frame_.size() - sent);
    if (w > 0) {
      sent += static_cast<std::size_t>(w);
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // Full: wait until it drains, or take in a reply the peer is stuck writing.
      pollfd fds[2] = {{write_fd_, POLLOUT, 0}, {read_fd_, POLLIN, 0}};
      if (socket) fds[0].events |= POLLIN;
      if (::poll(fds, socket ? 1 : 2, -1) < 0 && errno != EINTR) throw TransportError(ErrnoMessage("poll"));
      if ((socket ? fds[0].revents : fds[1].revents) & (POLLIN | POLLHUP)) TakeAhead();
      continue;
    }
    throw TransportError(ErrnoMessage("sending to the peer failed"));
  }
}

void RawStreamClient::TakeAhead() {
  ReadFrame();
  const auto frame = reader_->frame();
  ahead_.emplace_back(frame.begin(), frame.end());
}

void RawStreamClient::ReadFrame() {
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
}

void RawStreamClient::Read(uint64_t id, Reply& reply) {
  std::span<const uint8_t> frame;
  if (!ahead_.empty()) {
    current_ = std::move(ahead_.front());
    ahead_.pop_front();
    frame = current_;
  } else {
    ReadFrame();
    frame = reader_->frame();
  }
  wire_.received += frame.size();
  if (echo_) {
    CheckEcho(frame_, frame, id, reply);
    return;
  }
  raw::Header h{};
  raw::DecodeHeader(frame.data(), &h);  // the reader checked it
  codec_.DecodeFramed(h, frame.subspan(raw::kHeaderSize), op_, reply);
}

void RawStreamClient::Call(const Request& request, Reply& reply) {
  op_ = request.op;
  codec_.EncodeFramed(request, frame_);
  Write();
  Read(request.id, reply);
}

void RawStreamClient::Send(const Request& request) {
  if (echo_) return Transport::Send(request);  // floors time single calls
  op_ = request.op;
  codec_.EncodeFramed(request, frame_);
  Write();
}

void RawStreamClient::Receive(Reply& reply) {
  if (echo_) return Transport::Receive(reply);
  Read(0, reply);  // only an echo needs its request's id
}

}  // namespace interop
