#include "tools/lab/plan.h"

#include <algorithm>
#include <cctype>
#include <regex>

namespace ambit::lab {

bool validLabName(const std::string& name) {
  static const std::regex kName("^[a-z0-9][a-z0-9-]{0,19}$");
  return std::regex_match(name, kName);
}

std::string prefixOf(const std::string& lab) { return "ambitlab-" + lab; }
std::string nodeName(int index) { return "node" + std::to_string(index); }

std::optional<int> nodeIndex(const std::string& name) {
  static const std::regex kNode("^node([1-9][0-9]{0,2})$");
  std::smatch m;
  if (!std::regex_match(name, m, kNode)) return std::nullopt;
  int i = std::stoi(m[1].str());
  if (i > kMaxNodes) return std::nullopt;
  return i;
}

std::string nodeIp(int index) { return "198.18.0." + std::to_string(10 + index); }
std::string podCidr(int index) { return "198.18." + std::to_string(index) + ".0/24"; }
std::string podGateway(int index) { return "198.18." + std::to_string(index) + ".1"; }
std::string podIp(int node, int slot) { return "198.18." + std::to_string(node) + "." + std::to_string(10 + slot); }
std::string serviceVip(int slot) { return "198.18.200." + std::to_string(10 + slot); }

std::string networkNetns(const std::string& lab) { return prefixOf(lab) + "_net"; }
std::string nodeNetns(const std::string& lab, int index) { return prefixOf(lab) + "_" + nodeName(index); }
std::string podNetns(const std::string& lab, const std::string& ns, const std::string& pod) {
  return prefixOf(lab) + "_pod_" + ns + "_" + pod;
}
std::string podVeth(int slot) { return "vp" + std::to_string(slot); }

std::optional<int> lowestFree(const std::set<int>& used, int limit) {
  for (int i = 0; i < limit; ++i) {
    if (!used.count(i)) return i;
  }
  return std::nullopt;
}

Placement placePod(const std::string& requested, const std::vector<int>& pods_per_node) {
  Placement p;
  if (pods_per_node.empty()) {
    p.error = "the lab has no nodes";
    return p;
  }
  if (!requested.empty()) {
    auto i = nodeIndex(requested);
    if (!i || *i > static_cast<int>(pods_per_node.size())) {
      p.error = "spec.nodeName '" + requested + "' is not a node of this lab (node1..node" +
                std::to_string(pods_per_node.size()) + ")";
      return p;
    }
    p.node = *i;
    return p;
  }
  auto it = std::min_element(pods_per_node.begin(), pods_per_node.end());
  p.node = static_cast<int>(it - pods_per_node.begin()) + 1;
  return p;
}

ZtunnelPorts ztunnelPorts(int generation) {
  int base = generation % 2 == 0 ? 15000 : 15100;
  return {base, base + 20, base + 21};
}

std::string hostsFile(const std::string& ns, const std::string& pod, const std::string& pod_ip,
                      const std::vector<HostsService>& services, const std::string& domain_suffix) {
  std::string out = "# written by ambitctl lab: the cluster's DNS names as this pod sees them\n"
                    "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  if (!pod_ip.empty()) out += pod_ip + "\t" + pod + "\n";
  for (const auto& s : services) {
    if (s.vip.empty()) continue;
    std::string names = s.name + "." + s.ns + ".svc." + domain_suffix + " " + s.name + "." + s.ns + ".svc " + s.name +
                        "." + s.ns;
    if (s.ns == ns) names += " " + s.name;
    out += s.vip + "\t" + names + "\n";
  }
  return out;
}

std::map<std::string, std::string> serviceEnv(const std::string& ns, const std::vector<EnvService>& services) {
  std::map<std::string, std::string> env;
  for (const auto& s : services) {
    if (s.ns != ns || s.vip.empty()) continue;
    std::string key;
    for (char c : s.name) key += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    env[key + "_SERVICE_HOST"] = s.vip;
    if (s.first_port) env[key + "_SERVICE_PORT"] = std::to_string(s.first_port);
  }
  return env;
}

}  // namespace ambit::lab
