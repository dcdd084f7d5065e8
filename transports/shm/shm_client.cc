#include "transports/shm/shm_client.h"

#include <unistd.h>

#include <cstring>
#include <optional>

#include "common/raw_frame.h"
#include "transports/codec/codec.h"
#include "transports/echo/echo_check.h"
#include "transports/raw_stream/raw_messages.h"
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
  // Frames in `codec`: raw, or JSON / protobuf in the frame header (raw_frame.md).
  ShmClient(ClientMode mode, Codec codec) : echo_(mode == ClientMode::kEcho), codec_(codec) {}

  void Open(const PeerEndpoint& peer) override {
    segment_.emplace(Segment::Open(peer.address));
    req_ = segment_->requests();
    rep_ = segment_->replies();
    seq_ = received_ = segment_->first();
  }

  void Call(const Request& r, Reply& reply) override {
    Post(r);
    Take(reply);
  }

  // Calls in flight: up to S requests published in the ring's entries before
  // the first reply is taken. The peer answers in order, so replies come
  // back in order too; the runner still matches them by id.
  void Send(const Request& r) override {
    if (seq_ - received_ >= req_.slots()) {
      throw TransportError("more calls in flight than the segment's " + std::to_string(req_.slots()) + " slots");
    }
    Post(r);
  }
  void Receive(Reply& reply) override {
    if (seq_ == received_) throw TransportError("Receive() with no call in flight");
    Take(reply);
  }

  // The frames written into and read out of the slots.
  std::optional<WireBytes> Wire() const override { return wire_; }
  void Close() override { segment_.reset(); }
  void Abort() override { aborted_ = true; }

 private:
  // Writes the request frame into call n's entry and publishes it.
  void Post(const Request& r) {
    const uint32_t n = seq_ + 1;
    uint8_t* p = req_.At(n).slot;
    op_ = r.op;
    if (r.is_batch() || codec_.codec() != Codec::kRaw) {
      // Built aside, then copied in: a batch's frame is as long as its batch,
      // and a JSON or protobuf message is made by its library.
      codec_.EncodeFramed(r, aside_);
      if (aside_.size() > req_.capacity) {
        throw TransportError("a request of " + std::to_string(aside_.size()) + " bytes does not fit the slot");
      }
      std::memcpy(p, aside_.data(), aside_.size());
      wire_.sent += aside_.size();
    } else if (r.op == Op::kAdd) {
      // Build the 40-byte frame off to the side and copy it in at once: the
      // peer is polling this very cache line, and a dozen small stores into
      // it would each pull the line back from the peer's core.
      alignas(8) uint8_t frame[raw::kHeaderSize + raw::kAddRequestPayload];
      raw::EncodeHeader(frame, raw::Kind::kAddRequest, r.id, 16);
      raw::Store(frame + 24, r.x);
      raw::Store(frame + 32, r.y);
      std::memcpy(p, frame, sizeof frame);
      wire_.sent += sizeof frame;
    } else {
      const std::size_t n_features = r.features.size();
      const std::size_t len = raw::ScoreRequestPayload(n_features, r.model.size());
      if (raw::kHeaderSize + len > req_.capacity) {
        throw TransportError("request of " + std::to_string(raw::kHeaderSize + len) + " bytes does not fit the slot");
      }
      raw::EncodeHeader(p, raw::Kind::kScoreRequest, r.id, static_cast<uint32_t>(len));
      raw::Store<uint32_t>(p + 24, static_cast<uint32_t>(n_features));
      raw::Store<uint32_t>(p + 28, static_cast<uint32_t>(r.model.size()));
      std::memcpy(p + 32, r.features.data(), 8 * n_features);
      std::memcpy(p + 32 + 8 * n_features, r.model.data(), r.model.size());
      wire_.sent += raw::kHeaderSize + len;
    }
    shm::Publish(*segment_, req_.At(n), n);
    seq_ = n;
  }

  // Waits for the reply to the oldest call not yet taken, and reads it.
  void Take(Reply& reply) {
    const uint32_t n = received_ + 1;
    const shm::Channel rep = rep_.At(n);
    const uint32_t got = shm::WaitForChange(*segment_, rep, n - rep_.slots(), aborted_);
    if (got != n) throw TransportError(aborted_ ? "no reply (row given up)" : "reply sequence out of step");
    received_ = n;
    if (echo_) {
      // The request entry is not written again until this reply is taken.
      const uint8_t* request = req_.At(n).slot;
      const std::size_t frame_size =
          std::min<std::size_t>(raw::kHeaderSize + raw::Load<uint32_t>(request + 16), req_.capacity);
      CheckEcho({request, frame_size}, {rep.slot, std::min<std::size_t>(frame_size, rep.capacity)},
                raw::Load<uint64_t>(request + 8), reply);
      wire_.received += frame_size;
    } else {
      Decode(rep, reply);
    }
  }

  void Decode(const shm::Channel& rep, Reply& reply) {
    raw::Header h;
    if (raw::DecodeHeader(rep.slot, &h) != raw::HeaderStatus::kOk ||
        raw::kHeaderSize + h.payload_len > rep.capacity) {
      throw TransportError("the reply slot holds no valid frame");
    }
    wire_.received += raw::kHeaderSize + h.payload_len;
    codec_.DecodeFramed(h, {rep.slot + raw::kHeaderSize, h.payload_len}, op_, reply);
  }

  bool echo_;
  MessageCodec codec_;
  Op op_ = Op::kAdd;            // the row's one workload: JSON replies name no op
  WireBytes wire_;
  std::vector<uint8_t> aside_;  // a frame built before it is copied into its slot
  std::optional<Segment> segment_;
  shm::Ring req_{}, rep_{};
  uint32_t seq_ = 0;       // the last call published
  uint32_t received_ = 0;  // the last call whose reply was taken
  std::atomic<bool> aborted_{false};
};

uint32_t RoundUp8(std::size_t n) { return static_cast<uint32_t>(raw::Padded8(n)); }

// The row's request frame in its codec, as the client writes it.
std::size_t FramedSize(const Request& sample, Codec codec) {
  std::vector<uint8_t> frame;
  MessageCodec(codec).EncodeFramed(sample, frame);
  return frame.size();
}

// The slots' capacities for the row's messages (schemas/shm_layout.md):
// version 3's for single calls; for a batch, its request frame, and its
// reply at up to 64 bytes a call; a floor's reply slot holds its echoed request.
shm::Capacities CapacitiesFor(std::size_t request, std::size_t items, bool echo) {
  shm::Capacities c;
  c.request = std::max(c.request, RoundUp8(request));
  c.reply = std::max<uint32_t>(c.reply, RoundUp8(32 + 64 * items));
  if (echo) c.reply = std::max(c.reply, RoundUp8(request));
  return c;
}

// Creates the segment before the peer starts; the holder unlinks it.
std::shared_ptr<void> PrepareSegment(const AddressContext& where, shm::WaitMode mode, std::string* address) {
  *address = "/interop-spectrum-" + std::to_string(::getpid()) + "-" + where.tag;
  const uint32_t budget = mode == shm::WaitMode::kFutex && where.wait_spinning_apart ? kFutexSpinBudget : 0;
  // One entry each way per call in flight (rounded up to a power of two).
  const std::size_t request = FramedSize(*where.sample, where.codec);
  const shm::Capacities capacities = CapacitiesFor(request, where.sample->items.size(), where.echo);
  auto segment = std::make_shared<Segment>(
      Segment::Create(*address, mode, budget, shm::SlotsFor(where.inflight), 0, capacities));
  // The frames the row will write, reserved now (a batch's can be MiBs a slot).
  segment->Reserve(request, capacities.reply);  // an echo's reply slot already holds its request
  return segment;
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
      .make_client = [](PeerKind, ClientMode mode, Codec codec) -> std::unique_ptr<Transport> {
        return std::make_unique<ShmClient>(mode, codec);
      },
      // A frame a slot could not hold: above the bound of its kind.
      .too_large = [](const Request& message, Codec codec) { return MessageTooLarge(codec, message, /*framed=*/true); },
      .overlaps = "K entries in a ring of request and reply slots, each with its own sequence word",
      .family = "shm",
      .variant = variant,
      .codecs = {Codec::kRaw, Codec::kJson, Codec::kProtobuf},
      .bytes_counted = "the frames the client writes into the request slots and reads out of the reply slots",
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
