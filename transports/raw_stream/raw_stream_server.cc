#include "transports/raw_stream/raw_stream_server.h"

#include <poll.h>
#include <atomic>
#include <cstdlib>
#include <pthread.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "common/fd_io.h"
#include "common/frame_reader.h"
#include "common/raw_frame.h"
#include "transports/raw_stream/raw_answer.h"
#include "transports/fault/peer_counts.h"

namespace interop {
namespace {

void LogBadInput(uint64_t id, const std::string& why) {
  std::fprintf(stderr, "cpp peer: bad request (id %llu): %s\n",
               static_cast<unsigned long long>(id), why.c_str());
}

// The requests this side holds (--count-held): the one it is answering,
// those already read behind it and those waiting in the stream, counted in
// frames of its size (a row's requests are all one size).
std::size_t Held(const FrameReader& reader, int fd) {
  int waiting = 0;
  if (::ioctl(fd, FIONREAD, &waiting) != 0) waiting = 0;
  return 1 + (reader.buffered_bytes() + static_cast<std::size_t>(waiting)) / reader.frame().size();
}

}  // namespace

bool ServeRawStream(int in_fd, int out_fd, const PeerOptions& options) {
  const bool echo = options.echo;
  HeldCount held_count(options.count_held);
  MessageCount message_count(options.count_messages);
  FrameReader reader(in_fd);
  std::vector<uint8_t> out;
  std::vector<double> features;  // aligned copy of the request's doubles
  for (;;) {
    using S = FrameReader::Status;
    const S status = reader.Next();
    if (status == S::kEof) return true;
    if (status == S::kEofMidFrame || status == S::kIoError) return false;
    if (status == S::kBadMagic) {
      LogBadInput(0, "bad magic or version; closing the stream");
      raw::EncodeError(out, 0, "bad magic or version");
      WriteFull(out_fd, out.data(), out.size());
      return false;
    }
    const raw::Header& h = reader.header();
    if (status == S::kTooLong) {
      LogBadInput(h.id, "payload_len above the bound; closing the stream");
      raw::EncodeError(out, h.id, "payload_len exceeds " + std::to_string(raw::MaxPayloadOf(h.kind)));
      WriteFull(out_fd, out.data(), out.size());
      return false;
    }
    if (echo) {
      BeforeReply(options.fault);  // counts: crash-after and hang-after hold in echo mode too
      const auto frame = reader.frame();
      if (!WriteFull(out_fd, frame.data(), frame.size())) return false;
      continue;
    }
    const RawAnswer answer = AnswerRawRequest(h, reader.payload(), out, features);
    if (!answer.error.empty()) LogBadInput(h.id, answer.error);
    message_count.Answered(answer.calls);
    SpoilRawFrame(BeforeReply(options.fault), out.data(), out.size());
    // Counted as the reply is about to go (the client has had all the time
    // of this call to send more), and said as it grows: we may be stopped
    // before the stream ends.
    if (held_count.on()) held_count.Saw(Held(reader, in_fd));
    if (!WriteFull(out_fd, out.data(), out.size())) return false;
  }
}

void AnnounceReady(const std::string& address, const PeerOptions& options) {
  if (options.fault.mode == PeerFault::Mode::kNoReady) {
    for (;;) ::pause();  // never READY: the harness must time out
  }
  std::printf("READY %s\n", address.c_str());
  std::fflush(stdout);
}

int ServeConnections(int listen_fd, const std::string& ready_address, const PeerOptions& options) {
  // Block the stop signals in every thread and take them from a signalfd, so
  // the accept loop can wait for "a connection or a stop" in one poll.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  int sig_fd = ::signalfd(-1, &stop, SFD_CLOEXEC);
  AnnounceReady(ready_address, options);
  for (;;) {
    pollfd fds[2] = {{listen_fd, POLLIN, 0}, {sig_fd, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {  // no timeout: the harness stops us with a signal
      if (errno == EINTR) continue;
      std::perror("cpp peer: poll");
      return 1;
    }
    if (fds[1].revents) break;
    if (!(fds[0].revents & POLLIN)) continue;
    const int conn = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;
    std::thread([conn, &options] {
      ServeRawStream(conn, conn, options);
      ::close(conn);
    }).detach();
  }
  ::close(sig_fd);
  return 0;
}

}  // namespace interop
