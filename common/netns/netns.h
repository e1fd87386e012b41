// Network namespaces as values: a held namespace (an open fd of it), and
// sockets made inside one. ztunnel's in-pod mode opens its listeners and its
// outgoing connections inside each pod's namespace this way; the node agent and
// privileged tests use it to act inside a pod.
//
// A socket belongs to the namespace it was created in for its whole life, so
// only the socket() call runs inside the pod: the calling thread enters the
// namespace (setns), creates the socket and comes straight back.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/base/result.h"

namespace ambit::netns {

// The firewall mark on ztunnel's own sockets inside a pod: capture (eBPF or
// iptables) lets marked sockets through, so ztunnel never captures itself.
inline constexpr uint32_t kProxyMark = 0x539;

class Netns {
 public:
  // Takes ownership of `fd` (an open /proc/<pid>/ns/net or /run/netns/<name>).
  explicit Netns(int fd);
  ~Netns();
  Netns(const Netns&) = delete;
  Netns& operator=(const Netns&) = delete;

  // Opens a namespace file, e.g. /run/netns/NAME or /proc/PID/ns/net.
  static Result<std::shared_ptr<Netns>> open(const std::string& path);
  // The namespace the calling thread is in now.
  static Result<std::shared_ptr<Netns>> current();

  int fd() const { return fd_; }
  // The kernel's inode number of the namespace: equal for the same namespace.
  uint64_t inode() const { return inode_; }

 private:
  int fd_ = -1;
  uint64_t inode_ = 0;  // read once: compared on every replay and keyed on per connection
};

// Runs `fn` with the calling thread inside `ns`, then returns the thread to
// the namespace it was in. If the thread cannot get back it aborts the
// process: a worker left in a pod's namespace would be a silent bypass.
Status runIn(const Netns& ns, const std::function<void()>& fn);

// socket(domain, type | SOCK_CLOEXEC, protocol) inside `ns` (here when null).
// With `mark` != 0 the socket carries that SO_MARK.
Result<int> socketIn(const Netns* ns, int domain, int type, int protocol = 0, uint32_t mark = 0);

}  // namespace ambit::netns
