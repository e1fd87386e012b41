// How the node agent captures an enrolled pod's traffic: eBPF (capture/ebpf)
// or, where BPF cannot be loaded, in-pod iptables rules (capture/iptables).
// Both give the same behaviour: the pod's outbound TCP goes to ztunnel's
// 15001 in the pod, inbound TCP for the pod (but HBONE's 15008) to 15006,
// ztunnel's own sockets (mark 0x539) pass, and with ztunnel gone the pod's
// connections are refused, never let through.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ip/address.hpp>
#include <nlohmann/json.hpp>

#include "common/base/result.h"
#include "common/netns/netns.h"

namespace ambit::agent {

struct PodCapture {
  std::shared_ptr<netns::Netns> netns;
  std::vector<boost::asio::ip::address> addresses;  // the pod's IPs: inbound capture applies to these
};

class Capture {
 public:
  virtual ~Capture() = default;
  // "ebpf" or "iptables".
  virtual const char* mode() const = 0;
  // Captures the pod's traffic (idempotent: enrolling an enrolled pod again,
  // e.g. after an agent restart, changes nothing for its connections).
  virtual Status enroll(const PodCapture& pod) = 0;
  // Stops capturing it; nothing of it stays behind.
  virtual Status release(const PodCapture& pod) = 0;
  // Whether the pod's namespace is captured now (state that outlives the agent).
  virtual bool isEnrolled(const netns::Netns& ns) const = 0;
  // Forgets pods whose namespaces are gone (found after a restart): `live`
  // are the namespaces the agent knows; others are forgotten only when the
  // capture can tell their namespace no longer exists.
  virtual void forgetExcept(const std::vector<std::shared_ptr<netns::Netns>>& live) = 0;
  // Counters by name (eBPF verdicts; iptables rule packet counts are per pod).
  virtual std::map<std::string, uint64_t> counters() const = 0;
  // What is installed, for /config_dump.
  virtual nlohmann::json dump() const = 0;
};

}  // namespace ambit::agent
