#include "tests/support/socks_forwarder.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include "tests/support/sockets.h"

namespace ambit::test {

SocksForwarder::SocksForwarder(std::string src_ip, uint16_t socks_port, std::string dst_ip, uint16_t dst_port)
    : src_ip_(std::move(src_ip)), dst_ip_(std::move(dst_ip)), socks_port_(socks_port), dst_port_(dst_port) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      ::listen(listen_fd_, 128) != 0 || ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    if (listen_fd_ >= 0) ::close(listen_fd_);
    throw std::runtime_error("socks forwarder: cannot listen on 127.0.0.1");
  }
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { acceptLoop(); });
}

SocksForwarder::~SocksForwarder() {
  stop_ = true;
  acceptor_.join();
  ::close(listen_fd_);
  std::lock_guard lock(mu_);
  for (auto& t : relays_) t.join();
}

void SocksForwarder::acceptLoop() {
  while (!stop_) {  // polls with a timeout: ends within 100 ms of stop_
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) continue;
    ++accepted_;
    std::lock_guard lock(mu_);
    relays_.emplace_back([this, c] { relay(c); });
  }
}

void SocksForwarder::relay(int client) {
  auto up = socksConnect(src_ip_, socks_port_, dst_ip_, dst_port_);
  if (up.reply != 0) {
    ::close(client);
    return;
  }
  int fds[2] = {client, up.fd.get()};
  bool open[2] = {true, true};  // each side still sends
  char buf[16384];
  while (!stop_ && (open[0] || open[1])) {  // polls with a timeout: ends within 100 ms of stop_
    pollfd p[2] = {{open[0] ? fds[0] : -1, POLLIN, 0}, {open[1] ? fds[1] : -1, POLLIN, 0}};
    if (::poll(p, 2, 100) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (!open[i] || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t n = ::recv(fds[i], buf, sizeof(buf), 0);
      if (n <= 0) {
        open[i] = false;
        ::shutdown(fds[1 - i], SHUT_WR);
        if (n < 0) open[1 - i] = false;  // a reset: the other way ends too
        continue;
      }
      for (ssize_t off = 0; off < n;) {
        ssize_t w = ::send(fds[1 - i], buf + off, static_cast<std::size_t>(n - off), MSG_NOSIGNAL);
        if (w <= 0) {
          open[0] = open[1] = false;
          break;
        }
        off += w;
      }
    }
  }
  ::close(client);
}

}  // namespace ambit::test
