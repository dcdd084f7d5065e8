#include "transports/rest/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "common/fd_io.h"
#include "transports/transport.h"

namespace interop {

HttpClient::HttpClient(const std::string& host, int port, std::size_t max_body_bytes)
    : host_(host), port_(port), max_body_(max_body_bytes),
      host_line_("Host: " + host + ":" + std::to_string(port) + "\r\n"), in_(64 * 1024) {
  http_parser_settings_init(&settings_);
  settings_.on_body = OnBody;
  settings_.on_message_complete = OnMessageComplete;
  Connect();
}

HttpClient::~HttpClient() { Disconnect(); }

void HttpClient::Connect() {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  if (::inet_pton(AF_INET, host_.c_str(), &addr.sin_addr) != 1) throw TransportError("not an IPv4 address: " + host_);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw TransportError(ErrnoMessage("socket(AF_INET)"));
  // Without TCP_NODELAY a request written as head and body could wait for an ACK.
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const std::string msg = ErrnoMessage("connect to " + host_ + ":" + std::to_string(port_));
    ::close(fd);
    throw TransportError(msg);
  }
  fd_ = fd;
  in_begin_ = in_end_ = 0;
  if (aborted_) ::shutdown(fd, SHUT_RDWR);  // an Abort() that came while connecting
}

void HttpClient::Disconnect() {
  const int fd = fd_.exchange(-1);
  if (fd >= 0) ::close(fd);
  in_begin_ = in_end_ = 0;
}

void HttpClient::Abort() {
  aborted_ = true;
  const int fd = fd_.load();
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);  // a blocked recv or send returns now
}

HttpClient::Response HttpClient::Post(std::string_view path, std::string_view json_body) {
  return Exchange("POST", path, json_body);
}

HttpClient::Response HttpClient::Get(std::string_view path) { return Exchange("GET", path, {}); }

void HttpClient::FormatHead(std::string_view method, std::string_view path, std::size_t body_size) {
  head_.clear();
  head_.append(method).append(" ").append(path).append(" HTTP/1.1\r\n").append(host_line_);
  if (method == "POST") {
    char length[24];
    const auto end = std::to_chars(length, length + sizeof length, body_size).ptr;
    head_.append("Content-Type: application/json\r\nContent-Length: ").append(length, end).append("\r\n");
  }
  head_.append("\r\n");
}

void HttpClient::StartPost(std::string_view path, std::string_view json_body) {
  if (aborted_) throw TransportError("the request was given up");
  if (fd_ < 0) Connect();
  FormatHead("POST", path, json_body.size());
  Send(json_body);
}

HttpClient::Response HttpClient::FinishResponse() {
  ReadResponse();
  return Finished();
}

HttpClient::Response HttpClient::Finished() {
  const Response response{static_cast<int>(parser_.status_code), body_};
  if (!http_should_keep_alive(&parser_)) Disconnect();
  return response;
}

HttpClient::Response HttpClient::Exchange(std::string_view method, std::string_view path, std::string_view body) {
  if (aborted_) throw TransportError("the request was given up");
  FormatHead(method, path, body.size());
  // A kept-alive connection the server has closed since shows as an end of
  // stream before any byte of the response: then once more, on a new one.
  for (int attempt = 0;; ++attempt) {
    const bool reused = fd_ >= 0;
    if (!reused) Connect();
    Send(body);
    try {
      ReadResponse();
      break;
    } catch (const TransportError&) {
      if (!reused || attempt > 0 || aborted_ || received_) throw;
      Disconnect();
    }
  }
  return Finished();
}

void HttpClient::Send(std::string_view body) {
  iovec iov[2] = {{head_.data(), head_.size()}, {const_cast<char*>(body.data()), body.size()}};
  msghdr msg{};
  msg.msg_iov = iov;
  msg.msg_iovlen = body.empty() ? 1 : 2;
  while (msg.msg_iovlen > 0) {
    // MSG_NOSIGNAL: a closed connection is an error here, never a SIGPIPE.
    ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR && !aborted_) continue;
      throw TransportError(ErrnoMessage("sending the request"));
    }
    bytes_sent_ += static_cast<uint64_t>(n);
    while (msg.msg_iovlen > 0 && static_cast<std::size_t>(n) >= msg.msg_iov->iov_len) {
      n -= static_cast<ssize_t>(msg.msg_iov->iov_len);
      ++msg.msg_iov;
      --msg.msg_iovlen;
    }
    if (msg.msg_iovlen > 0) {
      msg.msg_iov->iov_base = static_cast<char*>(msg.msg_iov->iov_base) + n;
      msg.msg_iov->iov_len -= static_cast<std::size_t>(n);
    }
  }
}

void HttpClient::ReadResponse() {
  http_parser_init(&parser_, HTTP_RESPONSE);
  parser_.data = this;
  body_.clear();
  complete_ = false;
  too_large_ = false;
  received_ = in_begin_ < in_end_;
  for (;;) {
    if (in_begin_ < in_end_) {
      // OnMessageComplete pauses the parser at the end of the response, so
      // any bytes after it stay buffered for the next one.
      in_begin_ += http_parser_execute(&parser_, &settings_, in_.data() + in_begin_, in_end_ - in_begin_);
      if (complete_) return;
      if (HTTP_PARSER_ERRNO(&parser_) != HPE_OK) {
        throw TransportError(too_large_ ? "the response body is larger than " + std::to_string(max_body_) + " bytes"
                                        : std::string("a malformed HTTP response: ") +
                                              http_errno_description(HTTP_PARSER_ERRNO(&parser_)));
      }
    }
    in_begin_ = in_end_ = 0;
    const ssize_t r = ::recv(fd_, in_.data(), in_.size(), 0);
    if (r < 0) {
      if (errno == EINTR && !aborted_) continue;
      throw TransportError(aborted_ ? std::string("the request was given up") : ErrnoMessage("reading the response"));
    }
    if (r == 0) {
      http_parser_execute(&parser_, &settings_, nullptr, 0);  // a body "until close" ends here
      if (complete_) return;
      throw TransportError("the server closed the connection before the response was complete");
    }
    in_end_ = static_cast<std::size_t>(r);
    bytes_received_ += static_cast<uint64_t>(r);
    received_ = true;
  }
}

int HttpClient::OnBody(http_parser* parser, const char* at, std::size_t length) {
  auto* self = static_cast<HttpClient*>(parser->data);
  if (self->body_.size() + length > self->max_body_) {
    self->too_large_ = true;
    return 1;  // stops the parser with an error
  }
  self->body_.append(at, length);
  return 0;
}

int HttpClient::OnMessageComplete(http_parser* parser) {
  static_cast<HttpClient*>(parser->data)->complete_ = true;
  http_parser_pause(parser, 1);
  return 0;
}

}  // namespace interop
