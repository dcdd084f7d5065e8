#include "bench/measure.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <unordered_map>
#include <stdexcept>

#include "bench/process_guard.h"
#include "bench/statistics.h"
#include "common/workload.h"

namespace interop {

CpuClock CpuClock::OfThisProcess() { return CpuClock(CLOCK_PROCESS_CPUTIME_ID, true); }

CpuClock CpuClock::OfProcess(pid_t pid) {
  clockid_t id;
  const bool ok = pid > 0 && ::clock_getcpuclockid(pid, &id) == 0;
  return CpuClock(ok ? id : CLOCK_PROCESS_CPUTIME_ID, ok);
}

std::optional<double> CpuClock::Ns() const {
  timespec ts;
  if (!valid_ || ::clock_gettime(id_, &ts) != 0) return std::nullopt;
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

namespace {

using Clock = std::chrono::steady_clock;

// How long one timed sample of in-process calls should last: long enough
// that the clock's own cost (a pair of reads, ~20-30 ns here) is ~1% of it.
constexpr double kBatchNs = 2000;

// The most timed samples one repetition keeps (160 MB of them).
constexpr uint64_t kMaxSamples = 20'000'000;

inline double NsBetween(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::nano>(b - a).count();
}

std::optional<double> Delta(const std::optional<double>& before, const std::optional<double>& after) {
  if (!before || !after) return std::nullopt;
  return *after - *before;
}

// The inputs of call `id`. add: spread over the whole int64 range, so
// wrapping sums are exercised too; score: the ramp features and the model.
void FillRequest(Op op, uint64_t id, std::span<const double> features, std::string_view model, Request& r) {
  r.id = id;
  r.op = op;
  if (op == Op::kAdd) {
    r.x = static_cast<int64_t>(id * 0x9E3779B97F4A7C15ULL);
    r.y = static_cast<int64_t>(id ^ 0x5DEECE66DULL) * 7919;
  } else {
    r.features = features;
    r.model = model;
  }
}

// A message the loop sends, with the storage its batch items live in. Its
// request's views point into it and into the workload, so it stays put
// while its call is in flight (moving it keeps the items' buffer).
struct Message {
  Request request;
  std::vector<Request> items;
};

// Makes the requests of a row and checks every reply: against the C++
// reference answer for a row, for an exact echo for a floor.
class Workload {
 public:
  Workload(const RunSettings& s, RowRole role, int batch)
      : op_(s.op), model_(s.model), floor_(role == RowRole::kFloor), batch_(batch) {
    if (op_ == Op::kScore) {
      features_ = RampFeatures(s.features);
      const ScoreResult r = Score(features_);
      expected_score_ = r.score;
      expected_label_ = std::string(r.label);
    }
  }

  // A batch's B items, each with inputs of its own (each result is checked
  // for itself), filled once per message: a message kept in a pool keeps
  // them, so filling B calls never lands inside a timed window.
  void Prepare(Message& m) {
    if (batch_ == 0 || m.items.size() == static_cast<std::size_t>(batch_)) return;
    m.items.resize(static_cast<std::size_t>(batch_));
    for (Request& item : m.items) FillRequest(op_, next_item_++, features_, model_, item);
  }

  // Message `id`: one call, or a batch of B (its items prepared if not yet).
  void Fill(Message& m, uint64_t id) {
    FillRequest(op_, id, features_, model_, m.request);
    if (batch_ == 0) return;
    Prepare(m);
    m.request.items = m.items;
  }

  // Empty if the reply is right; otherwise what is wrong with it. A right
  // reply costs comparisons only: text is made for a wrong one (this runs
  // between a reply and the next send under load, for every item).
  std::string Check(const Request& req, const Reply& rep) const {
    if (!rep.error.empty()) return rep.error;
    const ReplyKind want = floor_ ? ReplyKind::kEcho
                           : req.is_batch() ? ReplyKind::kBatch
                           : op_ == Op::kAdd ? ReplyKind::kAdd
                                             : ReplyKind::kScore;
    if (rep.kind != want) return Where(req.id) + ": a reply of the wrong kind";
    if (rep.id != req.id) {
      return "reply id " + std::to_string(rep.id) + " for request id " + std::to_string(req.id);
    }
    if (floor_) return {};  // the transport compared the echoed bytes
    if (!req.is_batch()) return RightValue(req, rep) ? std::string() : WrongValue(req, rep, Where(req.id));
    if (rep.items.size() != req.items.size()) {
      return Where(req.id) + ": " + std::to_string(rep.items.size()) + " replies to a batch of " +
             std::to_string(req.items.size());
    }
    const ReplyKind item_kind = op_ == Op::kAdd ? ReplyKind::kAdd : ReplyKind::kScore;
    for (std::size_t i = 0; i < req.items.size(); ++i) {  // every item of every reply
      const Reply& item = rep.items[i];
      if (item.error.empty() && item.kind == item_kind && RightValue(req.items[i], item)) continue;
      const std::string where = Where(req.id) + " item " + std::to_string(i);
      if (!item.error.empty()) return where + ": " + item.error;
      if (item.kind != item_kind) return where + ": a reply of the wrong kind";
      return WrongValue(req.items[i], item, where);
    }
    return {};
  }

 private:
  static std::string Where(uint64_t id) { return "id " + std::to_string(id); }

  // One call's reply against the reference, bit for bit.
  bool RightValue(const Request& req, const Reply& rep) const {
    if (op_ == Op::kAdd) return rep.result == Add(req.x, req.y);
    return std::memcmp(&rep.score, &expected_score_, sizeof(double)) == 0 && rep.label == expected_label_;
  }

  std::string WrongValue(const Request& req, const Reply& rep, const std::string& where) const {
    if (op_ == Op::kAdd) {
      return where + ": add result " + std::to_string(rep.result) + ", expected " + std::to_string(Add(req.x, req.y));
    }
    char buf[160];
    std::snprintf(buf, sizeof buf, ": score %.17g '%s', expected %.17g '%s'", rep.score, rep.label.c_str(),
                  expected_score_, expected_label_.c_str());
    return where + buf;
  }

  Op op_;
  std::string model_;
  bool floor_;
  int batch_;
  uint64_t next_item_ = 1;
  std::vector<double> features_;
  double expected_score_ = 0;
  std::string expected_label_;
};

class Loop {
 public:
  Loop(Transport& t, const MeasureContext& ctx, Measurement& out)
      : t_(t), ctx_(ctx), s_(*ctx.settings), dog_(*ctx.watchdog), out_(out), workload_(s_, ctx.role, ctx.batch) {}

  void Run() {
    // The warmup's mean per call includes the loop's bookkeeping: what a
    // sample costs in wall time, which is what --duration is about.
    const double est_ns = Warmup();
    if (ctx_.inflight > 1) {
      // A row under load (--inflight=K): each repetition keeps K calls in
      // flight and times every one of them; calls/s comes from the same run.
      out_.calls_per_sample = 1;
      for (int rep = 0; rep < s_.repetitions; ++rep) {
        LoadRepetition(static_cast<std::size_t>(ctx_.inflight), est_ns);
        if (ctx_.reference) Reference();
      }
      return;
    }
    // In-process calls are too short to time one by one (reading the clock
    // costs tens of ns): time batches lasting ~2 us each instead.
    uint64_t batch = 1;
    if (ctx_.in_process) batch = s_.calls_per_sample > 0 ? s_.calls_per_sample : BatchOf(kBatchNs);
    out_.calls_per_sample = batch;
    const uint64_t samples = TimedIterations(s_, est_ns, batch);
    for (int rep = 0; rep < s_.repetitions; ++rep) {
      Repetition(samples, batch);
      if (ctx_.reference) Reference();
    }
    if (ctx_.role == RowRole::kRow && ctx_.inflight == 0 && s_.throughput_s > 0) Throughput(est_ns);
  }

 private:
  // The reply contract (transport.h): every reply is reset here, before its
  // call, and nowhere else.
  void Call(const Request& req, Reply& rep) {
    rep.Reset();
    t_.Call(req, rep);
  }

  // Checks a reply; a wrong one is counted and its text kept (the first only).
  bool Accept(const Request& req, const Reply& rep) {
    std::string why = workload_.Check(req, rep);
    if (why.empty()) return true;
    ++out_.errors;
    if (out_.first_error.empty()) out_.first_error = std::move(why);
    return false;
  }

  static void ThrowIfInterrupted() {
    if (Interrupted()) throw TransportError("interrupted");
  }

  // Calls until warmup_s has passed (at least 10 calls); returns the mean ns per call.
  double Warmup() {
    Message msg;
    Reply rep;
    const auto start = Clock::now();
    uint64_t n = 0;
    while (n < 10 || NsBetween(start, Clock::now()) < s_.warmup_s * 1e9) {
      workload_.Fill(msg, next_id_++);
      Call(msg.request, rep);
      dog_.Beat();
      Accept(msg.request, rep);
      ++n;
      ThrowIfInterrupted();
    }
    return NsBetween(start, Clock::now()) / static_cast<double>(n);
  }

  // The smallest batch (a power of two, at most 4096 calls) whose fastest of
  // three timed runs lasts target_ns, found by timing batches back to back
  // (not from the warmup's mean per call, which includes the loop's own
  // bookkeeping: most of an in-process call's cost).
  uint64_t BatchOf(double target_ns) {
    std::vector<Message> msgs;
    std::vector<Reply> reps;
    for (uint64_t batch = 1;; batch *= 2) {
      msgs.resize(batch);  // grown as needed: a message of B items holds B requests
      reps.resize(batch);
      double fastest = 0;
      for (int trial = 0; trial < 3; ++trial) {
        for (uint64_t b = 0; b < batch; ++b) {
          workload_.Fill(msgs[b], next_id_++);
          reps[b].Reset();
        }
        const auto t0 = Clock::now();
        for (uint64_t b = 0; b < batch; ++b) t_.Call(msgs[b].request, reps[b]);
        const double ns = NsBetween(t0, Clock::now());
        dog_.Beat();
        for (uint64_t b = 0; b < batch; ++b) Accept(msgs[b].request, reps[b]);
        fastest = trial == 0 ? ns : std::min(fastest, ns);
      }
      ThrowIfInterrupted();
      if (fastest >= target_ns || batch >= 4096) return batch;
    }
  }

  // CPU: out-of-process rows count every thread of both processes over the
  // whole repetition (other harness threads, gRPC's for one, work for the
  // row too, and the loop's own bookkeeping is nothing next to a µs call);
  // in-process rows timed in batches, where that bookkeeping would be most
  // of it, count the process's CPU around each timed batch only (one thread
  // does the calls). Accounted however the repetition ends: a failure keeps it too.
  class CpuAccount {
   public:
    CpuAccount(const MeasureContext& ctx, RepetitionSamples& r, bool windows)
        : ctx_(ctx), r_(r), windows_(windows), caller0_(self_.Ns()),
          peer0_(ctx.peer_cpu ? ctx.peer_cpu->Ns() : std::nullopt),
          broker0_(ctx.broker_cpu ? ctx.broker_cpu->Ns() : std::nullopt) {}
    ~CpuAccount() {
      r_.caller_cpu_ns = windows_ ? window_cpu_ : Delta(caller0_, self_.Ns());
      if (ctx_.peer_cpu) r_.peer_cpu_ns = Delta(peer0_, ctx_.peer_cpu->Ns());
      if (ctx_.broker_cpu) r_.broker_cpu_ns = Delta(broker0_, ctx_.broker_cpu->Ns());
    }
    // The caller's CPU now, when batches are windowed (nothing otherwise).
    std::optional<double> WindowEdge() const { return windows_ ? self_.Ns() : std::nullopt; }
    void AddWindow(const std::optional<double>& from, const std::optional<double>& to) {
      const auto used = Delta(from, to);
      window_cpu_ = window_cpu_ && used ? std::optional<double>(*window_cpu_ + *used) : std::nullopt;
    }

   private:
    const MeasureContext& ctx_;
    RepetitionSamples& r_;
    const bool windows_;
    const CpuClock self_ = CpuClock::OfThisProcess();
    const std::optional<double> caller0_, peer0_, broker0_;
    std::optional<double> window_cpu_ = 0.0;
  };

  // The bytes the transport counted over a repetition (however it ends),
  // taken outside every timed window.
  class WireAccount {
   public:
    WireAccount(const Transport& t, RepetitionSamples& r) : t_(t), r_(r), start_(t.Wire()) {}
    ~WireAccount() {
      const auto end = t_.Wire();
      if (!start_ || !end) return;
      r_.bytes_sent = static_cast<double>(end->sent - start_->sent);
      r_.bytes_received = static_cast<double>(end->received - start_->received);
    }

   private:
    const Transport& t_;
    RepetitionSamples& r_;
    const std::optional<WireBytes> start_;
  };

  // `samples` timed samples of `batch` calls each: the clock is read right
  // before the first call and right after the last, and nothing else (no
  // filling, no checking, no reset) happens in between.
  void Repetition(uint64_t samples, uint64_t batch) {
    std::vector<Message> msgs(batch);
    std::vector<Reply> reps(batch);
    RepetitionSamples& r = out_.repetitions.emplace_back();
    r.ns_per_call.reserve(samples);
    CpuAccount cpu(ctx_, r, /*windows=*/ctx_.in_process);
    WireAccount wire(t_, r);
    for (uint64_t i = 0; i < samples; ++i) {
      for (uint64_t b = 0; b < batch; ++b) {
        workload_.Fill(msgs[b], next_id_++);
        reps[b].Reset();
      }
      const auto cpu0 = cpu.WindowEdge();
      const auto t0 = Clock::now();
      for (uint64_t b = 0; b < batch; ++b) t_.Call(msgs[b].request, reps[b]);
      const auto t1 = Clock::now();
      const auto cpu1 = cpu.WindowEdge();
      r.messages += batch;
      dog_.Beat();
      bool all_ok = true;
      for (uint64_t b = 0; b < batch; ++b) all_ok &= Accept(msgs[b].request, reps[b]);
      // A wrong reply is counted, never timed as if it were a call.
      if (all_ok) {
        const double ns = NsBetween(t0, t1);
        r.ns_per_call.push_back(ns / static_cast<double>(batch));
        r.calls += batch;
        r.timed_ns += ns;
        cpu.AddWindow(cpu0, cpu1);
      }
      ThrowIfInterrupted();
    }
  }

  // One repetition of a row under load: K calls in flight for --duration
  // (or --calls calls), every call timed. CPU over the whole repetition.
  void LoadRepetition(std::size_t k, double est_ns) {
    RepetitionSamples& r = out_.repetitions.emplace_back();
    CpuAccount cpu(ctx_, r, /*windows=*/false);
    WireAccount wire(t_, r);
    AllowRoundsOf(k, est_ns);
    uint64_t sent = 0;
    r.timed_ns = InFlight(k, &r, [&](double elapsed_ns) {
                   // As many calls as the closed loop would time at most (TimedIterations).
                   if (++sent > kMaxSamples) return false;
                   return s_.calls > 0 ? sent <= s_.calls : elapsed_ns < s_.duration_s * 1e9;
                 }).wall_ns;
    dog_.SetTimeout(s_.call_timeout_s);
  }

  // A transport that cannot overlap calls makes K one after another: allow a
  // reply K times one call's time (with a wide margin) before the watchdog
  // may call the peer stalled.
  void AllowRoundsOf(std::size_t k, double est_ns) {
    dog_.SetTimeout(s_.call_timeout_s + 4 * static_cast<double>(k) * est_ns / 1e9);
  }

  // Keeps K calls in flight while keep_sending(ns since the first send) says
  // so, then receives the rest: each reply lets one more request go. Each
  // call is timed from right before its Send() to right after the Receive()
  // that brought its reply, matched by id; a reply that matches no call in
  // flight is counted wrong and stands for the oldest one (so the window
  // cannot leak). Right replies' times go to `r` (if given) and are counted
  // in it.
  struct InFlightRun {
    double wall_ns = 0;
    uint64_t right = 0;  // calls with a right reply
  };
  template <class KeepSending>
  InFlightRun InFlight(std::size_t k, RepetitionSamples* r, KeepSending keep_sending) {
    InFlightRun run;
    // Each call in flight holds a message of its own (a batch's items stay
    // put until its reply is checked), from a pool of K.
    struct Sent {
      std::size_t message;  // its index in `messages`
      Clock::time_point at;
    };
    // The pool outlives the run, and its items are prepared before the clock
    // starts: every repetition and the throughput run send from the same K.
    if (pool_.size() < k) pool_.resize(k);
    for (std::size_t i = 0; i < k; ++i) workload_.Prepare(pool_[i]);
    std::vector<Message>& messages = pool_;
    std::vector<std::size_t> free_messages(k);
    for (std::size_t i = 0; i < k; ++i) free_messages[i] = k - 1 - i;
    std::unordered_map<uint64_t, Sent> in_flight;
    in_flight.reserve(2 * k);
    std::deque<uint64_t> order;  // ids in flight in send order (the oldest first)
    Reply rep;
    t_.BeforeInFlight(k);
    const auto start = Clock::now();
    bool sending = true;
    auto send_one = [&] {
      const std::size_t slot = free_messages.back();
      Message& msg = messages[slot];
      workload_.Fill(msg, next_id_++);
      const auto at = Clock::now();
      if (!keep_sending(NsBetween(start, at))) {
        sending = false;
        return;
      }
      t_.Send(msg.request);
      if (r) ++r->messages;
      free_messages.pop_back();
      in_flight.emplace(msg.request.id, Sent{slot, at});
      order.push_back(msg.request.id);
    };
    while (sending && in_flight.size() < k) send_one();
    auto end = start;
    while (!in_flight.empty()) {
      rep.Reset();
      t_.Receive(rep);
      end = Clock::now();
      dog_.Beat();
      auto it = in_flight.find(rep.id);
      if (it == in_flight.end()) it = in_flight.find(order.front());
      if (Accept(messages[it->second.message].request, rep)) {
        ++run.right;
        if (r) {  // kept as it goes: a repetition cut short keeps calls and time that agree
          r->ns_per_call.push_back(NsBetween(it->second.at, end));
          ++r->calls;
          r->timed_ns = NsBetween(start, end);
        }
      }
      free_messages.push_back(it->second.message);
      in_flight.erase(it);
      while (!order.empty() && !in_flight.count(order.front())) order.pop_front();
      if (sending) send_one();
      ThrowIfInterrupted();
    }
    run.wall_ns = NsBetween(start, end);
    return run;
  }

  // The reference tool's run after a repetition: it makes no beats of ours,
  // so the watchdog allows its length, then the calls' timeout again.
  void Reference() {
    dog_.SetTimeout(s_.call_timeout_s + ctx_.reference_s + 10);
    try {
      out_.reference_runs.push_back(ctx_.reference());
    } catch (const std::runtime_error& e) {
      if (out_.reference_error.empty()) out_.reference_error = e.what();
    }
    dog_.SetTimeout(s_.call_timeout_s);
    dog_.Beat();
    ThrowIfInterrupted();
  }

  // The default run's calls/s: K calls in flight for throughput_s, right
  // replies counted over the wall time from the first send to the last reply.
  void Throughput(double est_ns) {
    const std::size_t k = static_cast<std::size_t>(std::max(1, s_.inflight));
    AllowRoundsOf(k, est_ns);
    const InFlightRun run = InFlight(k, nullptr, [&](double elapsed_ns) { return elapsed_ns < s_.throughput_s * 1e9; });
    out_.inflight = static_cast<int>(k);
    out_.calls_per_s = run.wall_ns > 0 ? static_cast<double>(run.right) / (run.wall_ns / 1e9) : 0;
  }

  Transport& t_;
  const MeasureContext& ctx_;
  const RunSettings& s_;
  Watchdog& dog_;
  Measurement& out_;
  Workload workload_;
  uint64_t next_id_ = 1;
  std::vector<Message> pool_;  // InFlight's messages, one per call in flight
};

}  // namespace

std::unique_ptr<SampleMessage> MakeSampleMessage(const RunSettings& s, int batch, uint64_t id) {
  auto m = std::make_unique<SampleMessage>();
  if (s.op == Op::kScore) m->features = RampFeatures(s.features);
  FillRequest(s.op, id, m->features, s.model, m->request);
  m->items.resize(static_cast<std::size_t>(std::max(0, batch)));
  for (std::size_t i = 0; i < m->items.size(); ++i) FillRequest(s.op, id + i, m->features, s.model, m->items[i]);
  m->request.items = m->items;
  return m;
}

void MeasureCalls(Transport& transport, const MeasureContext& ctx, Measurement& out) {
  Loop(transport, ctx, out).Run();
}

uint64_t TimedIterations(const RunSettings& s, double est_ns_per_call, uint64_t batch) {
  if (s.calls > 0) return std::max<uint64_t>(1, (s.calls + batch - 1) / batch);
  const double per_iter = std::max(est_ns_per_call, 1.0) * static_cast<double>(batch);
  return std::clamp<uint64_t>(static_cast<uint64_t>(s.duration_s * 1e9 / per_iter), 20, kMaxSamples / batch);
}

double TimerOverheadNs() {
  std::vector<double> d(20001);
  for (auto& x : d) {
    const auto a = Clock::now();
    const auto b = Clock::now();
    x = NsBetween(a, b);
  }
  return Summarize(std::move(d)).p50;
}

namespace {

nlohmann::json OptionalNs(const std::optional<double>& v) { return v ? nlohmann::json(*v) : nlohmann::json(); }
std::optional<double> OptionalNs(const nlohmann::json& j) {
  return j.is_null() ? std::nullopt : std::optional<double>(j.get<double>());
}

}  // namespace

std::string EncodeMeasurement(const Measurement& m) {
  nlohmann::json j;
  j["calls_per_sample"] = m.calls_per_sample;
  j["errors"] = m.errors;
  j["first_error"] = m.first_error;
  j["calls_per_s"] = m.calls_per_s;
  j["inflight"] = m.inflight;
  j["failure"] = m.failure;
  j["repetitions"] = nlohmann::json::array();
  for (const auto& r : m.repetitions) {
    j["repetitions"].push_back({{"samples", r.ns_per_call.size()}, {"calls", r.calls}, {"timed_ns", r.timed_ns},
                                {"caller_cpu_ns", OptionalNs(r.caller_cpu_ns)},
                                {"peer_cpu_ns", OptionalNs(r.peer_cpu_ns)},
                                {"broker_cpu_ns", OptionalNs(r.broker_cpu_ns)},
                                {"messages", r.messages},
                                {"bytes_sent", OptionalNs(r.bytes_sent)},
                                {"bytes_received", OptionalNs(r.bytes_received)}});
  }
  // Text cut mid-character (a peer's error message) gets U+FFFD, never a throw.
  std::string out = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  out.push_back('\0');
  for (const auto& r : m.repetitions) {
    out.append(reinterpret_cast<const char*>(r.ns_per_call.data()), r.ns_per_call.size() * sizeof(double));
  }
  return out;
}

Measurement DecodeMeasurement(std::string_view bytes) {
  const std::size_t nul = bytes.find('\0');
  if (nul == std::string_view::npos) throw std::runtime_error("no measurement header");
  Measurement m;
  try {
    const auto j = nlohmann::json::parse(bytes.substr(0, nul));
    m.calls_per_sample = j.at("calls_per_sample");
    m.errors = j.at("errors");
    m.first_error = j.at("first_error");
    m.calls_per_s = j.at("calls_per_s");
    m.inflight = j.at("inflight");
    m.failure = j.at("failure");
    std::size_t at = nul + 1;
    for (const auto& r : j.at("repetitions")) {
      RepetitionSamples& rep = m.repetitions.emplace_back();
      const std::size_t n = r.at("samples");
      if (n > (bytes.size() - at) / sizeof(double)) throw std::runtime_error("samples cut short");
      rep.ns_per_call.resize(n);
      std::memcpy(rep.ns_per_call.data(), bytes.data() + at, n * sizeof(double));
      at += n * sizeof(double);
      rep.calls = r.at("calls");
      rep.timed_ns = r.at("timed_ns");
      rep.caller_cpu_ns = OptionalNs(r.at("caller_cpu_ns"));
      rep.peer_cpu_ns = OptionalNs(r.at("peer_cpu_ns"));
      rep.broker_cpu_ns = OptionalNs(r.at("broker_cpu_ns"));
      rep.messages = r.at("messages");
      rep.bytes_sent = OptionalNs(r.at("bytes_sent"));
      rep.bytes_received = OptionalNs(r.at("bytes_received"));
    }
    if (at != bytes.size()) throw std::runtime_error("trailing bytes after the samples");
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("unreadable measurement: ") + e.what());
  }
  return m;
}

}  // namespace interop
