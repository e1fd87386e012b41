// With the node agent's eBPF capture, ztunnel uses two of its pinned maps:
//  - ambit_inbound (SOCKHASH): inbound TCP for a pod is steered by sk_lookup
//    to the pod's 15006 socket filed under {netns cookie, family}. ztunnel
//    files each in-pod 15006 socket when it listens; the kernel drops the
//    entry when the socket closes, so a pod without ztunnel is refused.
//  - ambit_orig_tp: a redirected connect's original destination by 4-tuple,
//    read for a connection accepted on 15001 when SO_ORIGINAL_DST has no
//    answer (the cgroup/getsockopt program answers only processes inside the
//    agent's cgroup, and ztunnel need not run there).
// Without the pinned maps (iptables capture, or no agent) both do nothing.
#pragma once

#include <mutex>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "common/base/result.h"

namespace ambit::ztunnel::proxy {

class BpfMaps {
 public:
  explicit BpfMaps(std::string pin_dir) : pin_dir_(std::move(pin_dir)) {}
  ~BpfMaps();
  BpfMaps(const BpfMaps&) = delete;
  BpfMaps& operator=(const BpfMaps&) = delete;

  // Files a listening socket (any family) under its namespace's cookie.
  Status fileInbound(int listen_fd);
  // The original destination of a connection accepted on the outbound
  // listener (`fd`; `local` = our end, `peer` = the app's), taken out of the map.
  std::optional<boost::asio::ip::tcp::endpoint> takeOriginalDestination(int fd,
                                                                        const boost::asio::ip::tcp::endpoint& local,
                                                                        const boost::asio::ip::tcp::endpoint& peer);
  // Whether the pinned maps were found (eBPF capture on this node).
  bool active() const;

 private:
  int open(int& fd, const char* name);  // mu_ held; -1 when not pinned
  std::string pin_dir_;
  mutable std::mutex mu_;
  int inbound_fd_ = -1;
  int orig_fd_ = -1;
};

}  // namespace ambit::ztunnel::proxy
