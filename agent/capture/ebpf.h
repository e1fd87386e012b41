// The eBPF capture: loads Ambit's programs, pins their maps and links under a
// bpffs directory, attaches the cgroup programs (connect4/6, sockops,
// getsockopt, getpeername4/6) to one cgroup, and per enrolled pod adds its
// namespace to the maps and attaches sk_lookup to it.
//
// Everything that must outlive the agent is pinned: a restarted agent loads
// the programs again, finds the pinned maps (same content) and links (moved
// to the new programs), so running pods see no change.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ip/address.hpp>

#include "agent/capture/capture.h"
#include "bpf/abi.h"
#include "common/base/result.h"
#include "common/netns/netns.h"

struct bpf_object;
struct bpf_link;

namespace ambit::agent {

struct EbpfOptions {
  std::string pin_dir = "/sys/fs/bpf/ambit";  // on a bpffs; created if missing
  std::string cgroup;                          // cgroup v2 directory the programs attach to (never the root)
  uint16_t outbound_port = 15001;
  uint16_t inbound_port = 15006;
  uint16_t hbone_port = 15008;
};

class EbpfCapture final : public Capture {
 public:
  // Loads and pins; attaches to options.cgroup (or re-uses the pinned links).
  static Result<std::unique_ptr<EbpfCapture>> load(const EbpfOptions& options);
  ~EbpfCapture() override;

  const char* mode() const override { return "ebpf"; }
  // Enrolls a pod (idempotent): its addresses in ambit_pod_addrs, its netns
  // in ambit_pods, sk_lookup attached to its netns (pinned link).
  Status enroll(const PodCapture& pod) override;
  // Releases it: the reverse; nothing of it stays behind.
  Status release(const PodCapture& pod) override;
  bool isEnrolled(const netns::Netns& ns) const override;
  void forgetExcept(const std::vector<std::shared_ptr<netns::Netns>>& live) override;
  // Per-verdict counters, summed over CPUs.
  std::map<std::string, uint64_t> counters() const override;
  // Pins, enrolled namespaces and their addresses, verdict counters.
  nlohmann::json dump() const override;

  // Network namespace cookies of the enrolled pods (from the pinned map).
  std::vector<uint64_t> enrolled() const;
  // Releases by cookie (the namespace may be gone).
  Status releaseCookie(uint64_t cookie);
  // Detaches every link and removes every pin (lab down, tests): after this
  // nothing of Ambit's is attached or pinned.
  Status unload();

  int mapFd(const char* name) const;
  int programFd(const char* name) const;

 private:
  EbpfCapture() = default;
  Status loadObjects();
  std::vector<std::pair<ambit_addr, uint64_t>> podAddresses() const;
  bool namespaceAlive(uint64_t cookie) const;
  Status attachCgroup();

  EbpfOptions options_;
  struct Skeletons;
  std::unique_ptr<Skeletons> skel_;
  std::vector<bpf_link*> links_;  // cgroup links (pinned)
};

// The kernel's cookie of a network namespace (SO_NETNS_COOKIE on a socket made in it).
Result<uint64_t> netnsCookie(const netns::Netns& ns);
// Verdict names, by enum ambit_verdict.
const char* verdictName(int verdict);

}  // namespace ambit::agent
