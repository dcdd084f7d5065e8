// Raw frames (schemas/raw_frame.md) over any byte stream: the common client
// of the unix, tcp and pipe transports, which differ only in how they connect.
// In echo mode (the floor) it sends the same frames and checks that each one
// comes back byte for byte instead of decoding a reply.
#pragma once

#include <deque>
#include <memory>
#include <span>
#include <optional>
#include <vector>

#include "common/frame_reader.h"
#include "transports/codec/codec.h"
#include "transports/transport.h"

namespace interop {

class RawStreamClient : public Transport {
 public:
  // Frames in `codec`: raw frames, or JSON / protobuf messages in the frame
  // header (raw_frame.md, "Other codecs in the frame").
  RawStreamClient(ClientMode mode, Codec codec) : echo_(mode == ClientMode::kEcho), codec_(codec) {}
  ~RawStreamClient() override { Close(); }
  void Call(const Request& request, Reply& reply) override;
  // Pipelined frames: each Send() writes its frame at once; Receive() reads
  // whichever frame comes next (the peer answers in order, but nothing here
  // relies on it: the runner matches ids). K replies may outgrow what the
  // stream buffers (a pipe holds 64 KiB; K batch replies can hold MiBs), and
  // a peer blocked writing them reads no more requests: so a write that
  // would block takes in the replies that are there first, and Receive()
  // hands them out in order before it reads again.
  void Send(const Request& request) override;
  void Receive(Reply& reply) override;
  // The frames written and read, headers and payloads.
  std::optional<WireBytes> Wire() const override { return wire_; }
  void Close() override;

 protected:
  // Called by Open() of the concrete transport once connected. When owns_fds,
  // Close() closes them (sockets); pipes belong to the peer process instead.
  void Attach(int read_fd, int write_fd, bool owns_fds);

 private:
  void Write();
  // Reads the next frame, or takes the oldest one taken in ahead.
  void ReadFrame();
  // Decodes the frame just read; an echo (of request `id`) is compared with frame_.
  void Read(uint64_t id, Reply& reply);
  // While a write would block: a reply frame the peer has written, kept.
  void TakeAhead();

  bool echo_;
  MessageCodec codec_;
  Op op_ = Op::kAdd;  // the row's one workload: JSON replies name no op
  WireBytes wire_;
  int read_fd_ = -1;
  int write_fd_ = -1;
  bool owns_fds_ = false;
  std::optional<FrameReader> reader_;
  std::vector<uint8_t> frame_;  // the frame last sent, kept for the echo check
  std::deque<std::vector<uint8_t>> ahead_;  // reply frames taken in while a write waited, oldest first
  std::vector<uint8_t> current_;            // the frame of ahead_ being decoded
};

}  // namespace interop
