// Pods, Services, ServiceEntries and EndpointSlices -> WDS Addresses.
#include <arpa/inet.h>

#include <fmt/format.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "controlplane/translate/translate_internal.h"

namespace ambit::controlplane {

using istio::workload::Address;

std::string ipBytes(const std::string& ip) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1) return std::string(reinterpret_cast<char*>(buf), 4);
  if (inet_pton(AF_INET6, ip.c_str(), buf) == 1) return std::string(reinterpret_cast<char*>(buf), 16);
  return {};
}

namespace {

constexpr const char* kUseWaypoint = "istio.io/use-waypoint";
constexpr const char* kUseWaypointNamespace = "istio.io/use-waypoint-namespace";
constexpr const char* kWaypointFor = "istio.io/waypoint-for";

std::string label(const Labels& l, const char* key) {
  auto it = l.find(key);
  return it == l.end() ? std::string() : it->second;
}

// Istio's canonical service/revision labels, with their fallbacks.
std::string canonicalName(const Pod& pod) {
  for (const char* k : {"service.istio.io/canonical-name", "app.kubernetes.io/name", "app"}) {
    if (auto v = label(pod.meta.labels, k); !v.empty()) return v;
  }
  return pod.meta.name;
}
std::string canonicalRevision(const Pod& pod) {
  for (const char* k : {"service.istio.io/canonical-revision", "app.kubernetes.io/version", "version"}) {
    if (auto v = label(pod.meta.labels, k); !v.empty()) return v;
  }
  return "latest";
}

}  // namespace

std::optional<istio::workload::GatewayAddress> resolveWaypoint(const TranslateContext& ctx, const ObjectMeta& meta,
                                                               WaypointUse use, std::vector<std::string>& warnings) {
  // A waypoint's own Service and pods never go through a waypoint (Istio
  // exempts what its gateway controller manages): a namespace label would
  // otherwise point the waypoint's Service at itself.
  if (label(meta.labels, "gateway.istio.io/managed") == "istio.io-mesh-controller") return std::nullopt;
  // The object's own label wins over its namespace's; "none" stops inheritance.
  std::string name = label(meta.labels, kUseWaypoint);
  std::string gw_ns = label(meta.labels, kUseWaypointNamespace);
  if (name.empty()) {
    auto ns_it = ctx.snap.namespaces.find(meta.ns);
    if (ns_it != ctx.snap.namespaces.end()) {
      name = label(ns_it->second->meta.labels, kUseWaypoint);
      gw_ns = label(ns_it->second->meta.labels, kUseWaypointNamespace);
    }
  }
  if (name.empty() || name == "none") return std::nullopt;
  if (gw_ns.empty()) gw_ns = meta.ns;
  auto gw = ctx.snap.gateways.find(gw_ns + "/" + name);
  if (gw == ctx.snap.gateways.end() ||
      (gw->second->class_name != "istio-waypoint" && gw->second->class_name != "ambit-waypoint")) {
    warnings.push_back(fmt::format("{} {}/{}: {}={} names no waypoint Gateway {}/{} (class istio-waypoint or "
                                   "ambit-waypoint); traffic goes direct",
                                   use == WaypointUse::kService ? "Service" : "Pod", meta.ns, meta.name, kUseWaypoint,
                                   name, gw_ns, name));
    return std::nullopt;
  }
  std::string waypoint_for = label(gw->second->meta.labels, kWaypointFor);
  if (waypoint_for.empty()) waypoint_for = "service";  // Istio's default
  bool applies = waypoint_for == "all" || (use == WaypointUse::kService && waypoint_for == "service") ||
                 (use == WaypointUse::kWorkload && waypoint_for == "workload");
  if (!applies) return std::nullopt;
  istio::workload::GatewayAddress addr;
  addr.mutable_hostname()->set_namespace_(gw_ns);
  addr.mutable_hostname()->set_hostname(fmt::format("{}.{}.svc.{}", name, gw_ns, ctx.mesh.domain_suffix));
  addr.set_hbone_mtls_port(15008);
  return addr;
}

void translateServices(TranslateContext& ctx, Translated& out) {
  for (const auto& [key, ptr] : ctx.snap.services) {
    const Service& svc = *ptr;
    if (svc.cluster_ips.empty() && !svc.has_selector) continue;  // nothing a client can dial
    Address a;
    auto* s = a.mutable_service();
    s->set_name(svc.meta.name);
    s->set_namespace_(svc.meta.ns);
    s->set_hostname(serviceHostname(ctx.mesh, svc));
    for (const auto& ip : svc.cluster_ips) {
      auto* na = s->add_addresses();
      na->set_network(ctx.mesh.network);
      na->set_address(ipBytes(ip));
    }
    for (const auto& p : svc.ports) {
      auto* port = s->add_ports();
      port->set_service_port(p.port);
      port->set_target_port(p.target_port.value_or(0));  // named: resolved per workload
      port->set_app_protocol(appProtocolFor(p.app_protocol, p.name));
    }
    if (auto wp = resolveWaypoint(ctx, svc.meta, WaypointUse::kService, out.warnings)) *s->mutable_waypoint() = *wp;
    out.addresses[svc.meta.ns + "/" + s->hostname()] = std::move(a);
  }
  for (const auto& [key, ptr] : ctx.snap.service_entries) {
    const ServiceEntry& se = *ptr;
    for (const auto& host : se.hosts) {
      Address a;
      auto* s = a.mutable_service();
      s->set_name(se.meta.name);
      s->set_namespace_(se.meta.ns);
      s->set_hostname(host);
      for (const auto& addr : se.addresses) {
        auto slash = addr.find('/');
        auto* na = s->add_addresses();
        na->set_network(ctx.mesh.network);
        na->set_address(ipBytes(addr.substr(0, slash)));
        if (slash != std::string::npos) na->set_length(static_cast<uint32_t>(std::stoi(addr.substr(slash + 1))));
      }
      for (const auto& p : se.ports) {
        auto* port = s->add_ports();
        port->set_service_port(p.number);
        port->set_target_port(p.target_port.value_or(p.number));
        port->set_app_protocol(appProtocolFor(p.protocol, p.name));
      }
      if (auto wp = resolveWaypoint(ctx, se.meta, WaypointUse::kService, out.warnings)) *s->mutable_waypoint() = *wp;
      out.addresses[se.meta.ns + "/" + host] = std::move(a);
    }
  }
}

namespace {

// The ports a pod serves for a Service: named targetPorts resolve against the
// pod's container ports; a name the pod lacks leaves that port out.
istio::workload::PortList servicePortsForPod(const Service& svc, const Pod& pod) {
  istio::workload::PortList list;
  for (const auto& p : svc.ports) {
    uint16_t target = p.target_port.value_or(0);
    if (!p.target_port) {
      for (const auto& cp : pod.ports) {
        if (cp.name == p.target_port_name) target = cp.port;
      }
      if (target == 0) continue;
    }
    auto* port = list.add_ports();
    port->set_service_port(p.port);
    port->set_target_port(target);
  }
  return list;
}

}  // namespace

void translatePods(TranslateContext& ctx, Translated& out) {
  for (const auto& [key, ptr] : ctx.snap.pods) {
    if (auto a = translatePod(ctx, *ptr, out.warnings)) {
      std::string uid = a->workload().uid();
      out.addresses[uid] = std::move(*a);
    }
  }
}

std::optional<istio::workload::Address> translatePod(TranslateContext& ctx, const Pod& pod,
                                                     std::vector<std::string>& warnings) {
  {
    if (pod.ips.empty()) return std::nullopt;                                 // not scheduled yet: nothing to route to
    if (pod.phase == "Succeeded" || pod.phase == "Failed") return std::nullopt;  // finished pods hold no traffic
    auto ns_it = ctx.snap.namespaces.find(pod.meta.ns);
    const Namespace* ns = ns_it == ctx.snap.namespaces.end() ? nullptr : ns_it->second.get();

    Address a;
    auto* w = a.mutable_workload();
    w->set_uid(podUid(ctx.mesh, pod));
    w->set_name(pod.meta.name);
    w->set_namespace_(pod.meta.ns);
    for (const auto& ip : pod.ips) w->add_addresses(ipBytes(ip));
    w->set_network(ctx.mesh.network);
    bool enrolled = podEnrolled(pod, ns);
    w->set_tunnel_protocol(enrolled ? istio::workload::HBONE : istio::workload::NONE);
    w->set_trust_domain(ctx.mesh.trust_domain);
    w->set_service_account(pod.service_account);
    w->set_node(pod.node_name);
    w->set_canonical_name(canonicalName(pod));
    w->set_canonical_revision(canonicalRevision(pod));
    w->set_workload_type(istio::workload::POD);
    w->set_workload_name(canonicalName(pod));
    w->set_cluster_id(ctx.mesh.cluster_id);
    w->set_status(pod.phase == "Running" ? istio::workload::HEALTHY : istio::workload::UNHEALTHY);
    if (pod.host_network) w->set_network_mode(istio::workload::HOST_NETWORK);
    if (!pod.meta.labels.empty()) {
      // For waypoints: DestinationRule subsets select endpoints by label.
      ambit::route::v1::WorkloadLabels labels;
      for (const auto& [k, v] : pod.meta.labels) (*labels.mutable_labels())[k] = v;
      // Packed by hand with deterministic map order: equal pods must give
      // equal bytes (resource versions are hashes of them).
      std::string bytes;
      {
        google::protobuf::io::StringOutputStream sos(&bytes);
        google::protobuf::io::CodedOutputStream cos(&sos);
        cos.SetSerializationDeterministic(true);
        labels.SerializeToCodedStream(&cos);
      }
      auto* ext = w->add_extensions();
      ext->set_name(kLabelsExtension);
      ext->mutable_config()->set_type_url("type.googleapis.com/ambit.route.v1.WorkloadLabels");
      ext->mutable_config()->set_value(std::move(bytes));
    }
    if (enrolled) {
      if (auto wp = resolveWaypoint(ctx, pod.meta, WaypointUse::kWorkload, warnings)) *w->mutable_waypoint() = *wp;
    }
    for (const auto& [skey, svc] : inNamespace(ctx.snap.services, pod.meta.ns)) {
      if (!svc->has_selector || svc->selector.empty()) continue;
      if (!selects(svc->selector, pod.meta.labels)) continue;
      (*w->mutable_services())[svc->meta.ns + "/" + serviceHostname(ctx.mesh, *svc)] = servicePortsForPod(*svc, pod);
    }
    for (const auto& [skey, se] : inNamespace(ctx.snap.service_entries, pod.meta.ns)) {
      if (!se->has_workload_selector) continue;
      if (!selects(se->workload_selector, pod.meta.labels)) continue;
      for (const auto& host : se->hosts) {
        istio::workload::PortList list;
        for (const auto& p : se->ports) {
          auto* port = list.add_ports();
          port->set_service_port(p.number);
          port->set_target_port(p.target_port.value_or(p.number));
        }
        (*w->mutable_services())[se->meta.ns + "/" + host] = list;
      }
    }
    // Endpoints of selector-less Services that point at this pod.
    for (const auto& [ekey, es_ptr] : inNamespace(ctx.snap.endpoint_slices, pod.meta.ns)) {
      const EndpointSlice& es = *es_ptr;
      auto svc_it = ctx.snap.services.find(es.meta.ns + "/" + es.service_name);
      if (svc_it == ctx.snap.services.end() || svc_it->second->has_selector) continue;
      const Service& svc = *svc_it->second;
      for (const auto& ep : es.endpoints) {
        if (ep.target_pod != pod.meta.name) continue;
        istio::workload::PortList list;
        for (const auto& sp : svc.ports) {
          for (const auto& p : es.ports) {
            if (p.name == sp.name) {
              auto* port = list.add_ports();
              port->set_service_port(sp.port);
              port->set_target_port(p.port);
            }
          }
        }
        (*w->mutable_services())[es.meta.ns + "/" + serviceHostname(ctx.mesh, svc)] = list;
      }
    }
    attachPolicies(ctx, pod, *w);
    return a;
  }
}

void translateServiceEntryEndpoints(TranslateContext& ctx, Translated& out) {
  for (const auto& [key, ptr] : ctx.snap.service_entries) {
    const ServiceEntry& se = *ptr;
    for (const auto& ep : se.endpoints) {
      if (ipBytes(ep.address).empty()) continue;  // DNS endpoints are resolved by the proxy, not listed
      Address a;
      auto* w = a.mutable_workload();
      w->set_uid(fmt::format("{}/networking.istio.io/ServiceEntry/{}/{}/{}", ctx.mesh.cluster_id, se.meta.ns,
                             se.meta.name, ep.address));
      w->set_name(se.meta.name);
      w->set_namespace_(se.meta.ns);
      w->add_addresses(ipBytes(ep.address));
      w->set_network(ep.network.empty() ? ctx.mesh.network : ep.network);
      w->set_tunnel_protocol(istio::workload::NONE);
      w->set_trust_domain(ctx.mesh.trust_domain);
      w->set_service_account(ep.service_account.empty() ? "default" : ep.service_account);
      w->set_canonical_name(se.meta.name);
      w->set_canonical_revision("latest");
      w->set_workload_name(se.meta.name);
      w->set_cluster_id(ctx.mesh.cluster_id);
      if (ep.weight > 0) w->mutable_capacity()->set_value(ep.weight);
      for (const auto& host : se.hosts) {
        istio::workload::PortList list;
        for (const auto& p : se.ports) {
          auto* port = list.add_ports();
          port->set_service_port(p.number);
          auto named = ep.ports.find(p.name);
          port->set_target_port(named != ep.ports.end() ? named->second : p.target_port.value_or(p.number));
        }
        (*w->mutable_services())[se.meta.ns + "/" + host] = list;
      }
      out.addresses[w->uid()] = std::move(a);
    }
  }
}

}  // namespace ambit::controlplane
