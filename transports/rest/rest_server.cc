#include "transports/rest/rest_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>

#include "transports/fault/peer_counts.h"
#include "transports/json/json_codec.h"
#include "transports/raw_stream/raw_stream_server.h"
#include "transports/stop_signals.h"
#include "transports/tcp/tcp_address.h"

namespace interop {

int ServeRest(const PeerOptions& options) {
  std::string host;
  int port = 0;
  if (!ParseListenAddress(options.address, &host, &port)) return 2;
  StopSignals stop;  // before the server starts its threads, so they inherit the mask
  httplib::Server server;
  server.set_tcp_nodelay(true);
  // httplib closes a keep-alive connection after 5 requests by default, which
  // would add a reconnect to every fifth call: a row measures one connection.
  server.set_keep_alive_max_count(1u << 30);
  server.set_keep_alive_timeout(60);
  server.set_payload_max_length(json_codec::kMaxJsonBytes);  // larger bodies: 413
  // httplib serves each keep-alive connection on one pool thread for as long
  // as it lives: under --inflight=K the client holds K of them (and one for
  // its single calls), idle while wrk -cK runs beside the row (--baseline)
  // with K more, so the pool needs a thread for each, or the rest wait.
  const std::size_t threads = std::max<std::size_t>(CPPHTTPLIB_THREAD_POOL_COUNT, 2 * options.inflight + 4);
  server.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  // httplib listens with a backlog of 5 (CPPHTTPLIB_LISTEN_BACKLOG, built
  // into Debian's library). K connections opened at once under --inflight
  // (and wrk -cK beside them) overflow it, and the kernel then drops their
  // SYNs for a second or more: the row stalls before its first call. So the
  // listening socket is kept here and listened on again with a deep backlog.
  int listen_fd = -1;
  server.set_socket_options([&listen_fd](int sock) {
    const int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);  // httplib's default reuses the port instead
    listen_fd = sock;
  });
  // --count-held: a call is held while its handler runs (a thread per connection).
  HeldCount held_count(options.count_held);
  MessageCount message_count(options.count_messages);
  // One handler per path: /add and /score take their op from it (nullopt:
  // /batch, whose body must say "batch").
  auto handler = [&options, &held_count, &message_count](std::optional<Op> op) {
    return [op, echo = options.echo, &fault = options.fault, &held_count, &message_count](
               const httplib::Request& req, httplib::Response& res) {
      const HeldCount::Hold hold(held_count);
      const Spoil spoil = BeforeReply(fault);  // --fault, for the harness's tests
      if (echo) {  // baseline: the body goes straight back, nothing parsed
        res.set_content(req.body, "application/json");
        return;
      }
      auto answer = op ? json_codec::AnswerRequest(req.body, *op) : json_codec::AnswerBatchBody(req.body);
      if (message_count.on()) message_count.Answered(answer.calls);
      if (answer.http_status != 200) std::fprintf(stderr, "cpp peer: bad request: %s\n", answer.body.c_str());
      SpoilJsonReply(spoil, &answer.body);
      res.status = answer.http_status;
      res.set_content(answer.body, "application/json");
    };
  };
  server.Post("/add", handler(Op::kAdd));
  server.Post("/score", handler(Op::kScore));
  server.Post("/batch", handler(std::nullopt));
  server.Get("/health", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}", "application/json");
  });
  server.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      res.set_content("{\"error\":\"HTTP " + std::to_string(res.status) + "\"}", "application/json");
    }
  });
  const int bound = port == 0 ? server.bind_to_any_port(host) : (server.bind_to_port(host, port) ? port : -1);
  if (bound < 0) {
    std::perror(("cpp peer: cannot listen on " + options.address).c_str());
    return 1;
  }
  if (listen_fd >= 0 && ::listen(listen_fd, SOMAXCONN) != 0) std::perror("cpp peer: listen backlog");
  std::thread serving([&server] { server.listen_after_bind(); });
  AnnounceReady(host + ":" + std::to_string(bound), options);
  stop.Wait();
  server.stop();
  serving.join();
  return 0;
}

}  // namespace interop
