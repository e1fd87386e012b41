#include "tools/lab/admin_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "common/netns/netns.h"

namespace ambit::lab {

namespace http = boost::beast::http;

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

int msLeft(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

}  // namespace

Result<HttpAnswer> httpGet(const std::string& netns, const std::string& host, int port, const std::string& path,
                           std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  sockaddr_storage ss{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*v4);
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof(*v6);
  } else {
    return makeError(ErrorCode::kInvalidArgument, "'{}' is not an IP address", host);
  }
  std::shared_ptr<netns::Netns> ns;
  if (!netns.empty()) {
    auto opened = netns::Netns::open(netns);
    if (!opened) return opened.error();
    ns = *opened;
  }
  auto sock = netns::socketIn(ns.get(), ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK);
  if (!sock) return sock.error();
  Fd fd{*sock};
  std::string where = host + ":" + std::to_string(port) + (netns.empty() ? "" : " in " + netns);
  if (::connect(fd.fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    return makeError(ErrorCode::kUnavailable, "connect {}: {}", where, std::strerror(errno));
  }
  pollfd p{fd.fd, POLLOUT, 0};
  if (::poll(&p, 1, msLeft(deadline)) != 1) return makeError(ErrorCode::kDeadlineExceeded, "connect {}: timed out", where);
  int soerr = 0;
  socklen_t sl = sizeof soerr;
  ::getsockopt(fd.fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
  if (soerr != 0) return makeError(ErrorCode::kUnavailable, "connect {}: {}", where, std::strerror(soerr));
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
  size_t sent = 0;
  while (sent < req.size()) {
    ssize_t n = ::send(fd.fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return makeError(ErrorCode::kUnavailable, "send {}: {}", where, std::strerror(errno));
    pollfd w{fd.fd, POLLOUT, 0};
    if (::poll(&w, 1, msLeft(deadline)) != 1) return makeError(ErrorCode::kDeadlineExceeded, "send {}: timed out", where);
  }
  std::string raw;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd.fd, buf, sizeof buf, 0);
    if (n > 0) {
      raw.append(buf, static_cast<size_t>(n));
      if (raw.size() > (64u << 20)) return makeError(ErrorCode::kResourceExhausted, "{}: answer over 64 MiB", where);
      continue;
    }
    if (n == 0) break;
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return makeError(ErrorCode::kUnavailable, "read {}: {}", where, std::strerror(errno));
    pollfd r{fd.fd, POLLIN, 0};
    if (::poll(&r, 1, msLeft(deadline)) != 1) return makeError(ErrorCode::kDeadlineExceeded, "read {}: timed out", where);
  }
  http::response_parser<http::string_body> parser;
  parser.eager(true);
  parser.body_limit(64u << 20);
  boost::beast::error_code ec;
  parser.put(boost::asio::buffer(raw), ec);
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec) return makeError(ErrorCode::kUnavailable, "{}: not an HTTP answer: {}", where, ec.message());
  return HttpAnswer{static_cast<int>(parser.get().result_int()), parser.get().body()};
}

}  // namespace ambit::lab
