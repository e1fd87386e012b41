// Blocking socket helpers for integration tests: an echo server on a chosen
// address, a SOCKS5 client bound to a source address, round trips and a tiny
// HTTP GET. Every call is bounded by socket timeouts (no test can hang).
#pragma once

#include "common/netns/netns.h"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace ambit::test {

// Echoes every byte on its own thread per connection; counts connections.
class EchoServer {
 public:
  // Binds `ip`:`port` (0 = any); throws std::runtime_error on failure.
  EchoServer(const std::string& ip, uint16_t port);
  // The same, listening inside `ns` (null: here).
  EchoServer(const std::string& ip, uint16_t port, const netns::Netns* ns);
  ~EchoServer();
  uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  void run();
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
  std::vector<int> conns_;
};

// An owned fd.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept;
  ~Fd();
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

struct SocksResult {
  Fd fd;
  int reply = -1;  // SOCKS5 reply code; -1 when the handshake itself failed
};

// Connects from `src_ip` to the SOCKS5 entry at 127.0.0.1:`socks_port` and asks for `dst_ip`:`dst_port`.
SocksResult socksConnect(const std::string& src_ip, uint16_t socks_port, const std::string& dst_ip, uint16_t dst_port);

// A blocking TCP connection to `ip`:`port` made inside `ns` (null: here),
// with 10 s I/O timeouts. On failure the Fd is invalid and `*err` is errno.
// With `mark`, the socket carries that SO_MARK (0x539: exempt from capture).
Fd connectTo(const std::string& ip, uint16_t port, const netns::Netns* ns = nullptr, int* err = nullptr,
             uint32_t mark = 0);

// Sends `msg` and reads back as many bytes (an echo); "" on error or EOF first.
std::string roundTrip(int fd, const std::string& msg);

// Waits up to `timeout_ms` for the peer to close or reset; true if it did.
bool waitClosed(int fd, int timeout_ms);

// GET http://127.0.0.1:port/path; the body, or "" on failure.
std::string httpGet(uint16_t port, const std::string& path);

}  // namespace ambit::test
