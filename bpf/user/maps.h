// User space's side of bpf/abi.h, shared by the node agent, ztunnel and the
// redirect benchmark's stand-in proxy: map keys from addresses and sockets,
// and the two pinned maps a proxy uses under the agent's eBPF capture:
//  - ambit_inbound (SOCKHASH): inbound TCP for a pod is steered by sk_lookup
//    to the pod's 15006 socket filed under {netns cookie, family}. The proxy
//    files each in-pod 15006 socket when it listens; the kernel drops the
//    entry when the socket closes, so a pod without its proxy is refused.
//  - ambit_orig_tp: a redirected connect's original destination by netns
//    cookie and 4-tuple, read for a connection accepted on 15001 when
//    SO_ORIGINAL_DST has no answer (the cgroup/getsockopt program answers
//    only processes inside the agent's cgroup, and the proxy need not run there).
// Without the pinned maps (iptables capture, or no agent) both do nothing.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "bpf/abi.h"
#include "common/base/result.h"

namespace ambit::bpf {

// SO_NETNS_COOKIE (asm-generic/socket.h; older libc headers lack it).
inline constexpr int kSoNetnsCookie = 71;

// The cookie of the network namespace a socket belongs to.
Result<uint64_t> socketNetnsCookie(int fd);
// An address (and port) as the maps key it.
ambit_addr addrKey(const boost::asio::ip::address& ip, uint16_t port = 0);

class ProxyMaps {
 public:
  explicit ProxyMaps(std::string pin_dir) : pin_dir_(std::move(pin_dir)) {}
  ~ProxyMaps();
  ProxyMaps(const ProxyMaps&) = delete;
  ProxyMaps& operator=(const ProxyMaps&) = delete;

  // Files a listening socket (any family) under its namespace's cookie.
  Status fileInbound(int listen_fd);
  // The original destination of a connection accepted on the outbound
  // listener (`fd`; `local` = our end, `peer` = the app's), taken out of the map.
  std::optional<boost::asio::ip::tcp::endpoint> takeOriginalDestination(int fd,
                                                                        const boost::asio::ip::tcp::endpoint& local,
                                                                        const boost::asio::ip::tcp::endpoint& peer);
  // Whether the pinned maps were found (eBPF capture on this node).
  bool active() const { return inbound_fd_.load(std::memory_order_acquire) >= 0; }

 private:
  // The pinned map's fd, opened on first use (no lock on the data path);
  // -1 while it is not pinned (the agent may load after us: looked up again).
  int open(std::atomic<int>& fd, const char* name);
  std::string pin_dir_;
  std::atomic<int> inbound_fd_{-1};
  std::atomic<int> orig_fd_{-1};
};

}  // namespace ambit::bpf
