#include "transports/shm/shm_server.h"

#include <cstdio>
#include <cstring>
#include <vector>

#include "common/raw_frame.h"
#include "common/workload.h"
#include "transports/fault/peer_counts.h"
#include "transports/raw_stream/raw_answer.h"
#include "transports/raw_stream/raw_stream_server.h"
#include "transports/shm/shm_segment.h"
#include "transports/transport.h"

namespace interop {
namespace {

// Answers the request in the request slot into the reply slot (spoiled as
// --fault says, for the harness's tests).
// `out` and `features` are the server's, kept from request to request.
void Answer(const shm::Channel& req, const shm::Channel& rep, std::vector<uint8_t>& out, std::vector<double>& features,
            const PeerFault& fault, MessageCount& count) {
  out.clear();  // a reply, or a batch's
  raw::Header h{};
  std::string err;
  if (raw::DecodeHeader(req.slot, &h) != raw::HeaderStatus::kOk || raw::kHeaderSize + h.payload_len > req.capacity) {
    err = "the request slot holds no valid frame";
  } else {
    const std::span<const uint8_t> payload(req.slot + raw::kHeaderSize, h.payload_len);
    if (h.kind == raw::Kind::kAddRequest) {
      int64_t x, y;
      err = raw::ParseAddRequest(payload, &x, &y);
      if (err.empty()) {
        // The hot path of the tier: built aside and copied in at once, since
        // the harness is polling this cache line (see shm_client.cc).
        alignas(8) uint8_t frame[raw::kHeaderSize + 8];
        raw::EncodeHeader(frame, raw::Kind::kAddReply, h.id, 8);
        raw::Store(frame + raw::kHeaderSize, Add(x, y));
        SpoilRawFrame(BeforeReply(fault), frame, sizeof frame);
        std::memcpy(rep.slot, frame, sizeof frame);
        count.Answered(1);
        return;
      }
    }
    // Score, a batch, or a kind no request has: answered as over a stream.
    const RawAnswer answer = AnswerRawRequest(h, payload, out, features);
    err = answer.error;
    count.Answered(answer.calls);
  }
  if (!err.empty()) {
    std::fprintf(stderr, "cpp peer: bad request (id %llu): %s\n", static_cast<unsigned long long>(h.id), err.c_str());
    if (out.empty()) raw::EncodeError(out, h.id, err);
  }
  if (out.size() > rep.capacity) {  // a batch reply of mostly errors can outgrow the slot sized for answers
    std::fprintf(stderr, "cpp peer: a reply of %zu bytes does not fit the %u-byte reply slot\n", out.size(), rep.capacity);
    raw::EncodeError(out, h.id, "the reply does not fit the reply slot");
  }
  SpoilRawFrame(BeforeReply(fault), out.data(), out.size());
  std::memcpy(rep.slot, out.data(), out.size());
}

// --echo: the request frame goes back unchanged, nothing decoded but its
// length (bounded by the reply slot; a frame that does not fit gets an error).
void Echo(const shm::Channel& req, const shm::Channel& rep) {
  const uint32_t payload_len = raw::Load<uint32_t>(req.slot + 16);
  const std::size_t size = raw::kHeaderSize + payload_len;
  if (size <= rep.capacity && size <= req.capacity) {
    std::memcpy(rep.slot, req.slot, size);
    return;
  }
  std::vector<uint8_t> out;
  raw::EncodeError(out, raw::Load<uint64_t>(req.slot + 8), "the frame does not fit the reply slot");
  std::memcpy(rep.slot, out.data(), out.size());
}

// --count-held, for the tests of calls in flight: request n and every one
// published after it, counted as reply n is about to go (the harness has had
// all of call n to publish more). Said as it grows: we may be stopped at any time.
uint32_t Held(const shm::Ring& requests, uint32_t n) {
  uint32_t held = 1;
  while (held < requests.slots() && std::atomic_ref<uint32_t>(*requests.At(n + held).seq).load() == n + held) ++held;
  return held;
}

}  // namespace

int ServeShm(const PeerOptions& options) {
  try {
    const shm::Segment segment = shm::Segment::Open(options.address);
    const shm::Ring requests = segment.requests();
    const shm::Ring replies = segment.replies();
    const uint32_t slots = requests.slots();
    AnnounceReady(options.address, options);
    // SIGTERM's default action ends us; the segment is the harness's to remove.
    const std::atomic<bool> never{false};
    std::vector<double> features;
    std::vector<uint8_t> out;
    HeldCount held_count(options.count_held);
    MessageCount message_count(options.count_messages);
    // Calls are served in order, one entry after another round the ring:
    // request n is published when its entry's seq turns from n-S to n.
    for (uint32_t n = segment.first() + 1;; ++n) {
      const shm::Channel req = requests.At(n);
      const shm::Channel rep = replies.At(n);
      if (shm::WaitForChange(segment, req, n - slots, never) != n) {
        std::fprintf(stderr, "cpp peer: request entry out of step (expected call %u)\n", n);
        return 1;
      }
      if (options.echo) {
        BeforeReply(options.fault);  // counts: crash-after and hang-after hold in echo mode too
        Echo(req, rep);
      } else {
        Answer(req, rep, out, features, options.fault, message_count);
      }
      if (held_count.on()) held_count.Saw(Held(requests, n));
      shm::Publish(segment, rep, n);
    }
  } catch (const TransportError& e) {
    std::fprintf(stderr, "cpp peer: %s\n", e.what());
    return 2;
  }
}

}  // namespace interop
