// capture_relay: the stand-in proxy of the redirect benchmark (bench/redirect.py).
// It does what ztunnel does with a captured connection, minus everything
// else: accept on the capture ports, ask SO_ORIGINAL_DST (answered by
// conntrack under iptables REDIRECT, by Ambit's cgroup/getsockopt program
// under eBPF; falling back to the local address, which is the original
// destination under sk_lookup), dial it with the proxy mark (so capture lets
// it through) and copy bytes both ways. One epoll loop, non-blocking sockets:
// the same code for both capture modes, so what differs is the capture.
//
// Under eBPF capture, inbound reaches a socket only through the agent's
// SOCKHASH: with --bpf-pin-dir, listeners not on loopback are filed there
// (as ztunnel does; bpf/user/maps.h).
//
//   capture_relay --listen 127.0.0.1:15001 --listen 0.0.0.0:15006 [--mark 0x539] [--bpf-pin-dir DIR]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include <CLI/CLI.hpp>

#include "bpf/user/maps.h"

namespace {

constexpr int kSoOriginalDst = 80;
constexpr std::size_t kBuf = 64 * 1024;

volatile std::sig_atomic_t g_stop = 0;

struct Side {
  int fd = -1;
  int peer = -1;
  std::string pending;  // bytes read from `peer` not yet written to `fd`
  bool connecting = false;
};

std::unordered_map<int, Side> g_sides;
int g_ep = -1;

void closePair(int fd) {
  auto it = g_sides.find(fd);
  if (it == g_sides.end()) return;
  int peer = it->second.peer;
  ::close(fd);
  g_sides.erase(it);
  if (peer >= 0 && g_sides.count(peer)) {
    ::close(peer);
    g_sides.erase(peer);
  }
}

void watch(int fd, uint32_t events, int op) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  ::epoll_ctl(g_ep, op, fd, &ev);
}

bool parseEndpoint(const std::string& s, sockaddr_in& a) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos) return false;
  a = {};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::stoi(s.substr(colon + 1))));
  return inet_pton(AF_INET, s.substr(0, colon).c_str(), &a.sin_addr) == 1;
}

void accepted(int client, const sockaddr_in& listen_addr, uint32_t mark) {
  sockaddr_in orig{};
  socklen_t len = sizeof(orig);
  if (::getsockopt(client, SOL_IP, kSoOriginalDst, &orig, &len) != 0) {
    len = sizeof(orig);
    ::getsockname(client, reinterpret_cast<sockaddr*>(&orig), &len);
  }
  if (orig.sin_port == listen_addr.sin_port && (listen_addr.sin_addr.s_addr == 0 ||
                                                orig.sin_addr.s_addr == listen_addr.sin_addr.s_addr)) {
    ::close(client);  // dialled directly: nothing to relay to
    return;
  }
  int up = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(up, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
  ::setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  int rc = ::connect(up, reinterpret_cast<sockaddr*>(&orig), sizeof(orig));
  if (rc != 0 && errno != EINPROGRESS) {
    ::close(up);
    ::close(client);
    return;
  }
  g_sides[client] = Side{client, up, "", false};
  g_sides[up] = Side{up, client, "", rc != 0};
  watch(client, EPOLLIN | EPOLLRDHUP, EPOLL_CTL_ADD);
  watch(up, EPOLLIN | EPOLLOUT | EPOLLRDHUP, EPOLL_CTL_ADD);
}

// Sets a relay socket's events from its state: write interest while it is
// connecting or has bytes pending; read interest only while its peer has
// nothing pending (else reading would have nowhere to put the bytes).
void rearm(int fd) {
  auto it = g_sides.find(fd);
  if (it == g_sides.end()) return;
  const Side& s = it->second;
  auto peer = g_sides.find(s.peer);
  bool peer_backed_up = peer != g_sides.end() && !peer->second.pending.empty();
  uint32_t events = 0;
  if (!peer_backed_up) events |= EPOLLIN | EPOLLRDHUP;
  if (s.connecting || !s.pending.empty()) events |= EPOLLOUT;
  watch(fd, events, EPOLL_CTL_MOD);
}

// Moves what `from` has to its peer; false when the pair is done.
bool pump(int from) {
  auto it = g_sides.find(from);
  if (it == g_sides.end()) return false;
  int to = it->second.peer;
  auto& out = g_sides[to];
  char buf[kBuf];
  for (int i = 0; i < 16; ++i) {  // bounded per wake-up
    if (!out.pending.empty()) {
      rearm(from);  // stop reading until `to` drains (no busy loop)
      return true;
    }
    ssize_t n = ::read(from, buf, sizeof(buf));
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    ssize_t w = ::write(to, buf, static_cast<std::size_t>(n));
    if (w < 0 && errno != EAGAIN) return false;
    if (w < n) {
      out.pending.assign(buf + std::max<ssize_t>(w, 0), static_cast<std::size_t>(n - std::max<ssize_t>(w, 0)));
      rearm(to);
      rearm(from);  // resumed by drain()
      return true;
    }
  }
  return true;
}

bool drain(int fd) {
  auto& s = g_sides[fd];
  if (s.connecting) {
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return false;
    s.connecting = false;
  }
  while (!s.pending.empty()) {
    ssize_t w = ::write(fd, s.pending.data(), s.pending.size());
    if (w < 0) return errno == EAGAIN;
    s.pending.erase(0, static_cast<std::size_t>(w));
  }
  rearm(fd);
  rearm(s.peer);  // reading the peer again
  return pump(s.peer);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli("capture_relay: the redirect benchmark's stand-in proxy");
  std::vector<std::string> listens;
  std::string mark_text = "0x539";
  cli.add_option("--listen", listens, "IP:PORT to accept captured connections on")->required();
  cli.add_option("--mark", mark_text, "SO_MARK on dialled sockets (capture lets them through)");
  std::string pin_dir;
  cli.add_option("--bpf-pin-dir", pin_dir, "the agent's bpffs directory: file non-loopback listeners for sk_lookup");
  CLI11_PARSE(cli, argc, argv);
  uint32_t mark = static_cast<uint32_t>(std::stoul(mark_text, nullptr, 0));
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGPIPE, SIG_IGN);
  g_ep = ::epoll_create1(EPOLL_CLOEXEC);
  ambit::bpf::ProxyMaps maps(pin_dir);
  std::unordered_map<int, sockaddr_in> listeners;
  for (const auto& l : listens) {
    sockaddr_in a{};
    if (!parseEndpoint(l, a)) {
      std::fprintf(stderr, "capture_relay: bad --listen %s\n", l.c_str());
      return 2;
    }
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 || ::listen(fd, 4096) != 0) {
      std::fprintf(stderr, "capture_relay: listen %s: %s\n", l.c_str(), std::strerror(errno));
      return 1;
    }
    listeners[fd] = a;
    if (a.sin_addr.s_addr != htonl(INADDR_LOOPBACK)) {
      if (auto st = maps.fileInbound(fd); !st) {
        std::fprintf(stderr, "capture_relay: filing %s: %s\n", l.c_str(), st.error().message.c_str());
        return 1;
      }
    }
    watch(fd, EPOLLIN, EPOLL_CTL_ADD);
  }
  std::fprintf(stderr, "capture_relay: listening\n");
  std::vector<epoll_event> events(256);
  while (!g_stop) {
    int n = ::epoll_wait(g_ep, events.data(), static_cast<int>(events.size()), 200);
    for (int i = 0; i < n; ++i) {
      int fd = events[i].data.fd;
      if (auto l = listeners.find(fd); l != listeners.end()) {
        for (int k = 0; k < 64; ++k) {
          int c = ::accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) break;
          accepted(c, l->second, mark);
        }
        continue;
      }
      if (!g_sides.count(fd)) continue;
      bool ok = true;
      if (events[i].events & EPOLLOUT) ok = drain(fd);
      if (ok && (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) ok = pump(fd);
      if (!ok) closePair(fd);
    }
  }
  return 0;
}
