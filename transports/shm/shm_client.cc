#include "transports/shm/shm_client.h"

#include <unistd.h>

#include <cstring>
#include <optional>

#include "common/raw_frame.h"
#include "transports/echo/echo_check.h"
#include "transports/shm/shm_segment.h"

namespace interop {
namespace {

using shm::Segment;

// Futex mode spins this many rounds (~50 µs in C++) before sleeping, when
// the two sides run on different cores. On one core spinning only delays
// the other side, so the budget is 0 there.
constexpr uint32_t kFutexSpinBudget = 2000;

// In echo mode (the floor) the peer copies the request frame into the reply
// slot unchanged, and the client compares the two slots instead of decoding.
class ShmClient final : public Transport {
 public:
  explicit ShmClient(ClientMode mode) : echo_(mode == ClientMode::kEcho) {}

  void Open(const PeerEndpoint& peer) override {
    segment_.emplace(Segment::Open(peer.address));
    req_ = segment_->requests();
    rep_ = segment_->replies();
    seq_ = std::atomic_ref<uint32_t>(*req_.seq).load();
  }

  void Call(const Request& r, Reply& reply) override {
    uint8_t* p = req_.slot;
    std::size_t frame_size = raw::kHeaderSize + raw::kAddRequestPayload;
    if (r.op == Op::kAdd) {
      // Build the 40-byte frame off to the side and copy it in at once: the
      // peer is polling this very cache line, and a dozen small stores into
      // it would each pull the line back from the peer's core.
      alignas(8) uint8_t frame[raw::kHeaderSize + raw::kAddRequestPayload];
      raw::EncodeHeader(frame, raw::Kind::kAddRequest, r.id, 16);
      raw::Store(frame + 24, r.x);
      raw::Store(frame + 32, r.y);
      std::memcpy(p, frame, sizeof frame);
    } else {
      const std::size_t n = r.features.size();
      const std::size_t len = raw::ScoreRequestPayload(n, r.model.size());
      if (raw::kHeaderSize + len > req_.capacity) {
        throw TransportError("request of " + std::to_string(raw::kHeaderSize + len) + " bytes does not fit the slot");
      }
      raw::EncodeHeader(p, raw::Kind::kScoreRequest, r.id, static_cast<uint32_t>(len));
      raw::Store<uint32_t>(p + 24, static_cast<uint32_t>(n));
      raw::Store<uint32_t>(p + 28, static_cast<uint32_t>(r.model.size()));
      std::memcpy(p + 32, r.features.data(), 8 * n);
      std::memcpy(p + 32 + 8 * n, r.model.data(), r.model.size());
      frame_size = raw::kHeaderSize + len;
    }
    const uint32_t n = ++seq_;
    shm::Publish(*segment_, req_, n);
    const uint32_t got = shm::WaitForChange(*segment_, rep_, n - 1, aborted_);
    if (got != n) throw TransportError(aborted_ ? "no reply (row given up)" : "reply sequence out of step");
    if (echo_) {
      CheckEcho({req_.slot, frame_size}, {rep_.slot, std::min<std::size_t>(frame_size, rep_.capacity)}, r.id, reply);
    } else {
      Decode(reply);
    }
  }

  void Close() override { segment_.reset(); }
  void Abort() override { aborted_ = true; }

 private:
  void Decode(Reply& reply) {
    raw::Header h;
    if (raw::DecodeHeader(rep_.slot, &h) != raw::HeaderStatus::kOk ||
        raw::kHeaderSize + h.payload_len > rep_.capacity) {
      throw TransportError("the reply slot holds no valid frame");
    }
    const std::span<const uint8_t> payload(rep_.slot + raw::kHeaderSize, h.payload_len);
    reply.id = h.id;
    if (h.kind == raw::Kind::kAddReply) {
      reply.error = raw::ParseAddReply(payload, &reply.result);
      reply.kind = ReplyKind::kAdd;
    } else if (h.kind == raw::Kind::kScoreReply) {
      std::string_view label;
      reply.error = raw::ParseScoreReply(payload, &reply.score, &label);
      reply.label.assign(label);
      reply.kind = ReplyKind::kScore;
    } else if (h.kind == raw::Kind::kError) {
      reply.error = "peer error: " + std::string(reinterpret_cast<const char*>(payload.data()), payload.size());
    } else {
      reply.error = "unexpected reply kind";
    }
  }

  bool echo_;
  std::optional<Segment> segment_;
  shm::Channel req_{}, rep_{};
  uint32_t seq_ = 0;
  std::atomic<bool> aborted_{false};
};

// Creates the segment before the peer starts; the holder unlinks it.
std::shared_ptr<void> PrepareSegment(const AddressContext& where, shm::WaitMode mode, std::string* address) {
  *address = "/interop-spectrum-" + std::to_string(::getpid()) + "-" + where.tag;
  const uint32_t budget = mode == shm::WaitMode::kFutex && where.wait_spinning_apart ? kFutexSpinBudget : 0;
  return std::make_shared<Segment>(Segment::Create(*address, mode, budget));
}

TransportSpec ShmSpec(std::string_view name, std::string_view variant, WaitStyle wait) {
  return {
      .name = name,
      .tier = "4",
      .default_codec = "raw",
      .summary = "",
      .wait_style = wait,
      .peer_uses_stdio = false,
      .listen_address = nullptr,
      .make_client = [](PeerKind, ClientMode mode) -> std::unique_ptr<Transport> {
        return std::make_unique<ShmClient>(mode);
      },
      // The echo copies the whole request into the reply slot, which is smaller.
      .floor_unavailable = [](Op op, std::size_t features, std::size_t model_bytes) -> std::string {
        const std::size_t frame =
            raw::kHeaderSize + (op == Op::kAdd ? raw::kAddRequestPayload : raw::ScoreRequestPayload(features, model_bytes));
        if (frame <= shm::kReplyCapacity) return {};
        return "the echoed request (" + std::to_string(frame) + " B) does not fit the " +
               std::to_string(shm::kReplyCapacity) + "-byte reply slot";
      },
      .family = "shm",
      .variant = variant,
  };
}

}  // namespace

TransportSpec ShmSpinTransport() {
  TransportSpec spec = ShmSpec("shm-spin", "spin", WaitStyle::kSpinning);
  spec.summary = "shared memory, both sides busy-poll a sequence word on their own cores (raw frames)";
  spec.prepare = [](const AddressContext& where, std::string* address) {
    return PrepareSegment(where, shm::WaitMode::kSpin, address);
  };
  return spec;
}

TransportSpec ShmFutexTransport() {
  TransportSpec spec = ShmSpec("shm-futex", "futex", WaitStyle::kSpinThenSleep);
  spec.summary = "shared memory, spin briefly then sleep on a futex (raw frames)";
  spec.prepare = [](const AddressContext& where, std::string* address) {
    return PrepareSegment(where, shm::WaitMode::kFutex, address);
  };
  return spec;
}

}  // namespace interop
