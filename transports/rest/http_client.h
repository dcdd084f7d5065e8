// The harness's HTTP/1.1 client for the REST rows, as lean as a load tool:
// one keep-alive connection; each request goes out in one writev (a head
// formatted into a reused buffer, then the body); each response is parsed by
// http-parser (Debian's libhttp-parser, the nodejs parser wrk itself embeds)
// straight from the read buffer, the body kept in a reused string. It does
// what a REST row needs and no more: no TLS, no redirects, no header map.
// Response bodies are bounded.
#pragma once

#include <http_parser.h>

#include <atomic>
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace interop {

class HttpClient {
 public:
  // Connects to host:port (IPv4, TCP_NODELAY). Throws TransportError.
  HttpClient(const std::string& host, int port, std::size_t max_body_bytes);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  struct Response {
    int status = 0;
    std::string_view body;  // valid until the next request
  };
  // One request and its whole response (Content-Length or chunked). A server
  // that closes the connection after a response is reconnected to on the
  // next request. Throws TransportError when no response can be had.
  Response Post(std::string_view path, std::string_view json_body);
  Response Get(std::string_view path);

  // From another thread (the row's watchdog): a request blocked on the
  // connection fails at once, and every later one too.
  void Abort();

  // A request's two halves, for several connections in flight at once
  // (REST under --inflight): StartPost() sends the request, and later
  // FinishResponse() reads its response. No reconnect: a connection the
  // server closed fails the call. ReadyToFinish(): part of a response is
  // already buffered, so FinishResponse() need not wait for the socket.
  void StartPost(std::string_view path, std::string_view json_body);
  Response FinishResponse();
  bool ReadyToFinish() const { return in_begin_ < in_end_; }
  int fd() const { return fd_; }
  // Bytes sent and received on the connection(s) so far: request heads and
  // bodies, response heads and bodies, as the socket took and gave them.
  uint64_t bytes_sent() const { return bytes_sent_; }
  uint64_t bytes_received() const { return bytes_received_; }

 private:
  Response Exchange(std::string_view method, std::string_view path, std::string_view body);
  void FormatHead(std::string_view method, std::string_view path, std::size_t body_size);
  Response Finished();  // the response just read; disconnects if the server will not keep it alive
  void Connect();
  void Disconnect();
  void Send(std::string_view body);
  void ReadResponse();  // until the response is complete; leaves what follows it buffered

  static int OnBody(http_parser* parser, const char* at, std::size_t length);
  static int OnMessageComplete(http_parser* parser);

  std::string host_;
  int port_;
  std::size_t max_body_;
  std::string host_line_;       // "Host: 127.0.0.1:PORT\r\n"
  std::atomic<int> fd_{-1};  // Abort() shuts it down from the watchdog's thread
  std::atomic<bool> aborted_{false};
  uint64_t bytes_sent_ = 0;
  uint64_t bytes_received_ = 0;
  std::string head_;            // the request head, formatted anew for each request
  std::vector<char> in_;        // what was read from the connection
  std::size_t in_begin_ = 0;    // unparsed bytes in in_: [in_begin_, in_end_)
  std::size_t in_end_ = 0;
  http_parser parser_{};
  http_parser_settings settings_{};
  std::string body_;
  bool complete_ = false;
  bool too_large_ = false;
  bool received_ = false;       // any byte of the current response arrived
};

}  // namespace interop
