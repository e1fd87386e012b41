// A plain TCP entry into the mesh for clients that cannot speak SOCKS5 (curl
// over HTTP/2, nghttp, h2load): it listens on 127.0.0.1:<ephemeral>, and
// relays each connection through a SOCKS5 connect made from the client pod's
// address, so the node proxy sees that pod as the source.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ambit::test {

class SocksForwarder {
 public:
  // Throws std::runtime_error when it cannot listen.
  SocksForwarder(std::string src_ip, uint16_t socks_port, std::string dst_ip, uint16_t dst_port);
  // Stops accepting, ends every relay (each polls a stop flag), joins.
  ~SocksForwarder();
  SocksForwarder(const SocksForwarder&) = delete;
  SocksForwarder& operator=(const SocksForwarder&) = delete;

  uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  void acceptLoop();
  void relay(int client);

  std::string src_ip_, dst_ip_;
  uint16_t socks_port_, dst_port_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> relays_;
};

}  // namespace ambit::test
