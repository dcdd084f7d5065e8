// Raw frames (schemas/raw_frame.md) over any byte stream: the common client
// of the unix, tcp and pipe transports, which differ only in how they connect.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "common/frame_reader.h"
#include "transports/transport.h"

namespace interop {

class RawStreamClient : public Transport {
 public:
  ~RawStreamClient() override { Close(); }
  void Call(const Request& request, Reply& reply) override;
  void CallPipelined(std::span<const Request> requests, std::span<Reply> replies) override;
  void Close() override;

 protected:
  // Called by Open() of the concrete transport once connected. When owns_fds,
  // Close() closes them (sockets); pipes belong to the peer process instead.
  void Attach(int read_fd, int write_fd, bool owns_fds);

 private:
  void Encode(const Request& request);  // appends one frame to tx_
  void Send();
  void Receive(Op op, Reply& reply);

  int read_fd_ = -1;
  int write_fd_ = -1;
  bool owns_fds_ = false;
  std::optional<FrameReader> reader_;
  std::vector<uint8_t> frame_;  // scratch for one encoded frame
  std::vector<uint8_t> tx_;     // everything to send next
};

}  // namespace interop
