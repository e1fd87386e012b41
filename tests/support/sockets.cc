#include "tests/support/sockets.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace ambit::test {

namespace {

void setTimeouts(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

sockaddr_in v4(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) throw std::runtime_error("bad IPv4 address " + ip);
  return a;
}

bool sendAll(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool recvAll(int fd, char* p, std::size_t n) {
  while (n > 0) {
    ssize_t r = ::recv(fd, p, n, 0);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

}  // namespace

Fd& Fd::operator=(Fd&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    o.fd_ = -1;
  }
  return *this;
}

Fd::~Fd() {
  if (fd_ >= 0) ::close(fd_);
}

EchoServer::EchoServer(const std::string& ip, uint16_t port) : EchoServer(ip, port, nullptr) {}

EchoServer::EchoServer(const std::string& ip, uint16_t port, const netns::Netns* ns) {
  auto made = netns::socketIn(ns, AF_INET, SOCK_STREAM);
  if (!made) throw std::runtime_error("echo server on " + ip + ": " + made.error().message);
  fd_ = *made;
  int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  auto a = v4(ip, port);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(fd_, 64) != 0) {
    std::string err = std::strerror(errno);
    ::close(fd_);
    throw std::runtime_error("echo server on " + ip + ": " + err);
  }
  socklen_t len = sizeof(a);
  getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { run(); });
}

EchoServer::~EchoServer() {
  stopping_ = true;
  ::shutdown(fd_, SHUT_RDWR);
  thread_.join();
  ::close(fd_);
  {
    std::lock_guard lock(mu_);
    for (int c : conns_) ::shutdown(c, SHUT_RDWR);
  }
  for (auto& t : workers_) t.join();
}

void EchoServer::run() {
  while (!stopping_) {
    int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) {
      if (stopping_ || errno == EINVAL) return;
      continue;
    }
    ++accepted_;
    std::lock_guard lock(mu_);
    conns_.push_back(c);
    workers_.emplace_back([c] {
      char buf[16384];
      for (;;) {
        ssize_t n = ::recv(c, buf, sizeof(buf), 0);
        if (n <= 0 || !sendAll(c, buf, static_cast<std::size_t>(n))) break;
      }
      ::shutdown(c, SHUT_WR);
    });
  }
}

SocksResult socksConnect(const std::string& src_ip, uint16_t socks_port, const std::string& dst_ip, uint16_t dst_port) {
  SocksResult r;
  r.fd = Fd(::socket(AF_INET, SOCK_STREAM, 0));
  int fd = r.fd.get();
  setTimeouts(fd, 15);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  auto src = v4(src_ip, 0);
  auto proxy = v4("127.0.0.1", socks_port);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) return r;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&proxy), sizeof(proxy)) != 0) return r;
  const char hello[3] = {5, 1, 0};
  char choice[2];
  if (!sendAll(fd, hello, 3) || !recvAll(fd, choice, 2) || choice[1] != 0) return r;
  auto dst = v4(dst_ip, dst_port);
  char req[10] = {5, 1, 0, 1};
  std::memcpy(req + 4, &dst.sin_addr, 4);
  std::memcpy(req + 8, &dst.sin_port, 2);
  char rep[10];
  if (!sendAll(fd, req, 10) || !recvAll(fd, rep, 10)) return r;
  r.reply = static_cast<unsigned char>(rep[1]);
  return r;
}

Fd connectTo(const std::string& ip, uint16_t port, const netns::Netns* ns, int* err, uint32_t mark) {
  auto made = netns::socketIn(ns, AF_INET, SOCK_STREAM, 0, mark);
  if (!made) {
    if (err) *err = EPERM;
    return Fd();
  }
  Fd fd(*made);
  setTimeouts(fd.get(), 10);
  int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  auto a = v4(ip, port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    if (err) *err = errno;
    return Fd();
  }
  if (err) *err = 0;
  return fd;
}

std::string roundTrip(int fd, const std::string& msg) {
  if (!sendAll(fd, msg.data(), msg.size())) return "";
  std::string out(msg.size(), '\0');
  if (!recvAll(fd, out.data(), out.size())) return "";
  return out;
}

bool waitClosed(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return false;
  char c;
  ssize_t n = ::recv(fd, &c, 1, MSG_DONTWAIT);
  return n <= 0;
}

std::string httpGet(uint16_t port, const std::string& path) {
  Fd fd(::socket(AF_INET, SOCK_STREAM, 0));
  setTimeouts(fd.get(), 10);
  auto a = v4("127.0.0.1", port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return "";
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  if (!sendAll(fd.get(), req.data(), req.size())) return "";
  std::string resp;
  char buf[16384];
  for (;;) {
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n <= 0) break;
    resp.append(buf, static_cast<std::size_t>(n));
  }
  auto body = resp.find("\r\n\r\n");
  return body == std::string::npos ? "" : resp.substr(body + 4);
}

}  // namespace ambit::test
