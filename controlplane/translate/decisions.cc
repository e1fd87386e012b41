// Small pure decisions translation is built from: selection, enrollment,
// names, protocols, effective mTLS mode.
#include "controlplane/translate/translate.h"

#include <fmt/format.h>

namespace ambit::controlplane {

namespace {
constexpr const char* kDataplaneMode = "istio.io/dataplane-mode";

std::string labelOr(const Labels& l, const char* key, const std::string& fallback = "") {
  auto it = l.find(key);
  return it == l.end() ? fallback : it->second;
}
}  // namespace

bool selects(const Labels& selector, const Labels& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

bool podEnrolled(const Pod& pod, const Namespace* ns) {
  if (pod.host_network) return false;  // its traffic is the node's; capturing it would capture the node
  std::string pod_mode = labelOr(pod.meta.labels, kDataplaneMode);
  if (pod_mode == "none") return false;
  if (pod_mode == "ambient") return true;
  return ns != nullptr && labelOr(ns->meta.labels, kDataplaneMode) == "ambient";
}

std::string podUid(const MeshSettings& mesh, const Pod& pod) {
  return fmt::format("{}//Pod/{}/{}", mesh.cluster_id, pod.meta.ns, pod.meta.name);
}

std::string serviceHostname(const MeshSettings& mesh, const Service& svc) {
  return fmt::format("{}.{}.svc.{}", svc.meta.name, svc.meta.ns, mesh.domain_suffix);
}

istio::workload::AppProtocol appProtocolFor(const std::string& app_protocol, const std::string& port_name) {
  using istio::workload::AppProtocol;
  std::string p = app_protocol;
  if (p.empty()) {
    // Istio's protocol selection by port name: "<protocol>[-<suffix>]".
    p = port_name.substr(0, port_name.find('-'));
  }
  for (auto& c : p) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (p == "http") return AppProtocol::HTTP11;
  if (p == "http2" || p == "kubernetes.io/h2c") return AppProtocol::HTTP2;
  if (p == "grpc" || p == "grpc-web") return AppProtocol::GRPC;
  // Istio carries these as TCP (its mongo/mysql/redis filters are not L7 here).
  if (p == "tcp" || p == "mongo" || p == "mysql" || p == "redis") return AppProtocol::TCP;
  if (p == "tls" || p == "https") return AppProtocol::TLS;
  return AppProtocol::UNKNOWN;
}

std::map<uint16_t, std::string> effectiveMtls(const Snapshot& snap, const MeshSettings& mesh, const Pod& pod) {
  // Collect the three levels; within a level Istio takes the oldest policy, and
  // we take the first by name (deterministic; two at one level is a config error).
  const PeerAuthentication* mesh_pa = nullptr;
  const PeerAuthentication* ns_pa = nullptr;
  const PeerAuthentication* wl_pa = nullptr;
  for (const auto& [key, ptr] : snap.peer_authentications) {
    const PeerAuthentication& pa = *ptr;
    if (pa.meta.ns == mesh.root_namespace && !pa.has_selector) {
      if (!mesh_pa) mesh_pa = &pa;
    } else if (pa.meta.ns == pod.meta.ns && !pa.has_selector) {
      if (!ns_pa) ns_pa = &pa;
    } else if (pa.meta.ns == pod.meta.ns && pa.has_selector && selects(pa.selector, pod.meta.labels)) {
      if (!wl_pa) wl_pa = &pa;
    }
  }
  std::string mode = "PERMISSIVE";  // Istio's default
  for (const PeerAuthentication* pa : {mesh_pa, ns_pa, wl_pa}) {
    if (pa && pa->mode != "UNSET") mode = pa->mode;
  }
  std::map<uint16_t, std::string> out{{0, mode}};
  if (wl_pa) {
    for (const auto& [port, m] : wl_pa->port_modes) out[port] = (m == "UNSET") ? mode : m;
  }
  return out;
}

}  // namespace ambit::controlplane
