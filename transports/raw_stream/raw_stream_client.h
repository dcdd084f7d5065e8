// Raw frames (schemas/raw_frame.md) over any byte stream: the common client
// of the unix, tcp and pipe transports, which differ only in how they connect.
// In echo mode (the floor) it sends the same frames and checks that each one
// comes back byte for byte instead of decoding a reply.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "common/frame_reader.h"
#include "transports/transport.h"

namespace interop {

class RawStreamClient : public Transport {
 public:
  explicit RawStreamClient(ClientMode mode) : echo_(mode == ClientMode::kEcho) {}
  ~RawStreamClient() override { Close(); }
  void Call(const Request& request, Reply& reply) override;
  // Pipelined frames: each Send() writes its frame at once; Receive() reads
  // whichever frame comes next (the peer answers in order, but nothing here
  // relies on it: the runner matches ids). No deadlock without non-blocking
  // I/O: with at most K unanswered, the replies in the stream stay under
  // K x a reply frame, which bench's bound on K keeps below a pipe's 64 KiB,
  // so the peer never blocks writing a reply while we block writing.
  void Send(const Request& request) override;
  void Receive(Reply& reply) override;
  void Close() override;

 protected:
  // Called by Open() of the concrete transport once connected. When owns_fds,
  // Close() closes them (sockets); pipes belong to the peer process instead.
  void Attach(int read_fd, int write_fd, bool owns_fds);

 private:
  void Encode(const Request& request);  // the request's frame into frame_
  void Write();
  // Reads the next frame and decodes it; an echo (of request `id`) is compared with frame_.
  void Read(uint64_t id, Reply& reply);

  bool echo_;
  int read_fd_ = -1;
  int write_fd_ = -1;
  bool owns_fds_ = false;
  std::optional<FrameReader> reader_;
  std::vector<uint8_t> frame_;  // the frame last sent, kept for the echo check
};

}  // namespace interop
