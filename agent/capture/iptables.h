// The fallback capture, for nodes where BPF cannot be loaded: in-pod iptables
// rules (nat table, both families), written from inside each pod's network
// namespace, in Ambit's own chains:
//   AMBIT_OUTBOUND (from OUTPUT): ztunnel's sockets (mark 0x539) and loopback
//     pass; every other TCP connect is REDIRECTed to 15001.
//   AMBIT_INBOUND (from PREROUTING): loopback and HBONE (15008) pass; all
//     other TCP (any address of the pod, listed or not) is REDIRECTed to 15006.
// With ztunnel gone, nothing listens on 15001/15006 and the pod's connections
// are refused: the same fail-closed behaviour as the eBPF capture.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "agent/capture/capture.h"

namespace ambit::agent {

struct IptablesOptions {
  uint16_t outbound_port = 15001;
  uint16_t inbound_port = 15006;
  uint16_t hbone_port = 15008;
};

// The iptables-restore input (the same for both families; pure: tested).
std::string iptablesRules(const IptablesOptions& options);

class IptablesCapture final : public Capture {
 public:
  // Fails when iptables/ip6tables cannot be found.
  static Result<std::unique_ptr<IptablesCapture>> create(const IptablesOptions& options);

  const char* mode() const override { return "iptables"; }
  Status enroll(const PodCapture& pod) override;
  Status release(const PodCapture& pod) override;
  bool isEnrolled(const netns::Netns& ns) const override;
  // The rules live in the pods' namespaces and go with them: only the
  // agent's own bookkeeping is trimmed.
  void forgetExcept(const std::vector<std::shared_ptr<netns::Netns>>& live) override;
  // Packets REDIRECTed, summed over the pods this agent enrolled.
  std::map<std::string, uint64_t> counters() const override;
  nlohmann::json dump() const override;

 private:
  struct Tool {
    std::string iptables, restore;
  };
  IptablesCapture() = default;
  Status apply(const netns::Netns& ns, const Tool& tool, const std::string& rules) const;
  void remove(const netns::Netns& ns, const Tool& tool) const;

  IptablesOptions options_;
  Tool v4_, v6_;
  mutable std::mutex mu_;
  std::map<uint64_t, PodCapture> pods_;  // by netns inode
};

}  // namespace ambit::agent
