#include "agent/pods/node_pods.h"

#include <fmt/format.h>

#include <algorithm>

namespace ambit::agent {

std::vector<NodePod> nodePods(const controlplane::Snapshot& snap, const std::string& node,
                              const controlplane::MeshSettings& mesh, std::vector<std::string>* warnings) {
  std::vector<NodePod> out;
  for (const auto& [key, pod] : snap.pods) {
    if (pod->node_name != node || pod->host_network || pod->ips.empty()) continue;
    if (pod->phase != "Running" && pod->phase != "Pending") continue;
    NodePod p;
    p.uid = controlplane::podUid(mesh, *pod);
    p.name = pod->meta.name;
    p.ns = pod->meta.ns;
    p.service_account = pod->service_account;
    bool bad = false;
    for (const auto& ip : pod->ips) {
      boost::system::error_code ec;
      auto a = boost::asio::ip::make_address(ip, ec);
      if (ec) {
        if (warnings) warnings->push_back(fmt::format("{}: pod {} has an unparseable address '{}'", pod->meta.origin, key, ip));
        bad = true;
        break;
      }
      p.addresses.push_back(a);
    }
    if (bad) continue;
    auto ns_it = snap.namespaces.find(pod->meta.ns);
    p.enrolled = controlplane::podEnrolled(*pod, ns_it == snap.namespaces.end() ? nullptr : ns_it->second.get());
    if (auto a = pod->meta.annotations.find(kNetnsAnnotation); a != pod->meta.annotations.end()) p.netns_path = a->second;
    out.push_back(std::move(p));
  }
  std::sort(out.begin(), out.end(), [](const NodePod& a, const NodePod& b) { return a.uid < b.uid; });
  return out;
}

}  // namespace ambit::agent
