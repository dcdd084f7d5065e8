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
  void CallPipelined(std::span<const Request> requests, std::span<Reply> replies) override;
  void Close() override;

 protected:
  // Called by Open() of the concrete transport once connected. When owns_fds,
  // Close() closes them (sockets); pipes belong to the peer process instead.
  void Attach(int read_fd, int write_fd, bool owns_fds);

 private:
  void Encode(const Request& request);  // appends one frame to tx_, its offset to frame_starts_
  void Send();
  // Reads the answer to request i (frame i of tx_, which echo mode compares).
  void Receive(const Request& request, std::size_t i, Reply& reply);

  bool echo_;
  int read_fd_ = -1;
  int write_fd_ = -1;
  bool owns_fds_ = false;
  std::optional<FrameReader> reader_;
  std::vector<uint8_t> frame_;              // scratch for one encoded frame
  std::vector<uint8_t> tx_;                 // the frames of the current call(s), kept until answered
  std::vector<std::size_t> frame_starts_;   // where each of them starts in tx_
};

}  // namespace interop
