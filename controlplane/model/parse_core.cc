// Kubernetes core and discovery kinds. Real manifests carry many fields Ambit
// does not use (images, resources, probes...): for these kinds we read what we
// need and leave the rest alone, unlike Istio kinds where a typo changes policy.
#include "controlplane/model/parse.h"

namespace ambit::controlplane {

Namespace parseNamespace(YamlReader& root, ObjectMeta meta) {
  root.ignore({"spec"});
  return Namespace{std::move(meta)};
}

Pod parsePod(YamlReader& root, ObjectMeta meta) {
  Pod p;
  p.meta = std::move(meta);
  YamlReader spec = root.child("spec");
  p.service_account = spec.str("serviceAccountName", "default");
  if (p.service_account.empty()) p.service_account = "default";
  p.node_name = spec.str("nodeName");
  p.host_network = spec.boolean("hostNetwork").value_or(false);
  for (auto& c : spec.list("containers")) {
    for (auto& port : c.list("ports")) {
      ContainerPort cp;
      cp.name = port.str("name");
      cp.port = port.port("containerPort").value_or(0);
      cp.protocol = port.str("protocol", "TCP");
      p.ports.push_back(cp);
    }
  }
  YamlReader status = root.child("status");
  p.phase = status.str("phase", "Running");
  for (auto& ip : status.list("podIPs")) {
    std::string a = ip.str("ip");
    if (!isIpAddress(a)) ip.error("ip", fmt::format("'{}' is not an IP address", a));
    else p.ips.push_back(a);
  }
  std::string single = status.str("podIP");
  if (!single.empty()) {
    if (!isIpAddress(single)) status.error("podIP", fmt::format("'{}' is not an IP address", single));
    else if (std::find(p.ips.begin(), p.ips.end(), single) == p.ips.end()) p.ips.insert(p.ips.begin(), single);
  }
  return p;
}

Service parseService(YamlReader& root, ObjectMeta meta) {
  Service s;
  s.meta = std::move(meta);
  YamlReader spec = root.child("spec");
  s.type = spec.str("type", "ClusterIP");
  std::vector<std::string> ips = spec.strings("clusterIPs");
  std::string ip = spec.str("clusterIP");
  if (!ip.empty() && std::find(ips.begin(), ips.end(), ip) == ips.end()) ips.insert(ips.begin(), ip);
  for (const auto& a : ips) {
    if (a == "None") continue;  // headless
    if (!isIpAddress(a)) spec.error("clusterIP", fmt::format("'{}' is not an IP address", a));
    else s.cluster_ips.push_back(a);
  }
  s.has_selector = spec.has("selector");
  s.selector = spec.stringMap("selector");
  for (auto& p : spec.list("ports")) {
    ServicePort sp;
    sp.name = p.str("name");
    sp.port = p.port("port").value_or(0);
    if (sp.port == 0 && !p.has("port")) p.ctx().error(p.mark(), p.path() + ".port", "is required");
    std::optional<int64_t> tp;
    p.intOrString("targetPort", tp, sp.target_port_name);
    if (tp) sp.target_port = static_cast<uint16_t>(*tp);
    if (!tp && sp.target_port_name.empty()) sp.target_port = sp.port;  // Kubernetes' default
    sp.protocol = p.str("protocol", "TCP");
    sp.app_protocol = p.str("appProtocol");
    s.ports.push_back(sp);
  }
  return s;
}

EndpointSlice parseEndpointSlice(YamlReader& root, ObjectMeta meta) {
  EndpointSlice es;
  es.meta = std::move(meta);
  auto it = es.meta.labels.find("kubernetes.io/service-name");
  if (it != es.meta.labels.end()) es.service_name = it->second;
  else root.ctx().error(root.mark(), "metadata.labels", "an EndpointSlice needs the label kubernetes.io/service-name");
  es.address_type = root.enumValue("addressType", {"IPv4", "IPv6", "FQDN"}, "IPv4");
  for (auto& e : root.list("endpoints")) {
    EndpointSlice::Endpoint ep;
    ep.addresses = e.strings("addresses");
    ep.ready = e.child("conditions").boolean("ready").value_or(true);
    YamlReader ref = e.child("targetRef");
    if (ref.str("kind") == "Pod") ep.target_pod = ref.str("name");
    es.endpoints.push_back(std::move(ep));
  }
  for (auto& p : root.list("ports")) {
    es.ports.push_back({p.str("name"), p.port("port").value_or(0)});
  }
  return es;
}

}  // namespace ambit::controlplane
