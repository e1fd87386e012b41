// The lab's address and name plan (pure, table-tested): where nodes, pods and
// service VIPs live in 198.18.0.0/15, what each kernel object of a lab is
// called (every one starts with "ambitlab-<lab>"), where a pod goes.
//
//   198.18.0.1           the control plane (ambitd), on the lab network's bridge
//   198.18.0.(10+i)      node i (1-based), on the same bridge
//   198.18.i.0/24        node i's pods: .1 the node's pod bridge, .10-.249 pods
//   198.18.200.10-.249   service VIPs (ClusterIPs the lab fills in)
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ambit::lab {

inline constexpr int kMaxNodes = 100;
inline constexpr int kPodSlots = 240;      // per node
inline constexpr int kServiceSlots = 240;  // per lab
inline constexpr const char* kControlPlaneIp = "198.18.0.1";
inline constexpr const char* kNetworkCidr = "198.18.0.0/24";

// A lab name: 1-20 of [a-z0-9-], starting with a letter or digit.
bool validLabName(const std::string& name);

std::string prefixOf(const std::string& lab);  // "ambitlab-<lab>"
std::string nodeName(int index);               // "node1"
std::optional<int> nodeIndex(const std::string& name);  // "node3" -> 3
std::string nodeIp(int index);
std::string podCidr(int index);
std::string podGateway(int index);
std::string podIp(int node, int slot);  // slot 0..kPodSlots-1
std::string serviceVip(int slot);        // slot 0..kServiceSlots-1

// Kernel object names: "<prefix>_net", "<prefix>_node1", "<prefix>_pod_<ns>_<pod>"
// ('_' never occurs in a lab or Kubernetes name, so one lab's prefix is never
// the start of another's).
std::string networkNetns(const std::string& lab);
std::string nodeNetns(const std::string& lab, int index);
std::string podNetns(const std::string& lab, const std::string& ns, const std::string& pod);
std::string podVeth(int slot);  // the pod's veth on its node ("vp<slot>")

// The lowest slot not in `used` below `limit`; nullopt when full.
std::optional<int> lowestFree(const std::set<int>& used, int limit);

// Where a new pod goes: `requested` (spec.nodeName) when set — it must name a
// lab node — else the node with the fewest pods (the lowest index on a tie).
// Returns the node index, or an error message.
struct Placement {
  int node = 0;
  std::string error;
};
Placement placePod(const std::string& requested, const std::vector<int>& pods_per_node);

// ztunnel's admin/stats/readiness ports by generation: a rolling restart runs
// the new one beside the old (both in the node's netns), so they alternate.
struct ZtunnelPorts {
  int admin, stats, readiness;
};
ZtunnelPorts ztunnelPorts(int generation);

// /etc/hosts as a pod of namespace `ns` sees it: every service by its cluster
// names, the namespace's own services by short name too, and the pod itself.
struct HostsService {
  std::string ns, name, vip;
};
std::string hostsFile(const std::string& ns, const std::string& pod, const std::string& pod_ip,
                      const std::vector<HostsService>& services, const std::string& domain_suffix = "cluster.local");

// Kubernetes' service environment variables for a pod of `ns`
// (BACKEND_SERVICE_HOST, BACKEND_SERVICE_PORT).
struct EnvService {
  std::string ns, name, vip;
  int first_port = 0;
};
std::map<std::string, std::string> serviceEnv(const std::string& ns, const std::vector<EnvService>& services);

}  // namespace ambit::lab
