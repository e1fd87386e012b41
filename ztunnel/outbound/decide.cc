// The outbound decision (see decide.h).
#include "ztunnel/outbound/decide.h"

#include <arpa/inet.h>

#include <algorithm>
#include <vector>

namespace ambit::ztunnel::outbound {

namespace wl = istio::workload;

std::string hostPort(const std::string& raw_ip, uint16_t port) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (raw_ip.size() == 4) {
    inet_ntop(AF_INET, raw_ip.data(), buf, sizeof(buf));
    return std::string(buf) + ":" + std::to_string(port);
  }
  if (raw_ip.size() == 16) {
    inet_ntop(AF_INET6, raw_ip.data(), buf, sizeof(buf));
    return "[" + std::string(buf) + "]:" + std::to_string(port);
  }
  return "?:" + std::to_string(port);
}

namespace {

bool sameWorkload(const wl::Workload& a, const wl::Workload& b) { return !a.uid().empty() && a.uid() == b.uid(); }

bool usable(const WorkloadPtr& w) { return w->status() == wl::HEALTHY && !w->addresses().empty(); }

// One of the usable workloads, chosen by `pick`; null when none is. Counts,
// then walks: no allocation per connection.
WorkloadPtr pickUsable(const std::vector<WorkloadPtr>& candidates, const Picker& pick) {
  std::size_t n = std::count_if(candidates.begin(), candidates.end(), usable);
  if (n == 0) return nullptr;
  std::size_t k = pick(n) % n;
  for (const auto& w : candidates) {
    if (usable(w) && k-- == 0) return w;
  }
  return nullptr;
}

std::string gatewayKey(const wl::GatewayAddress& gw) {
  return gw.hostname().namespace_() + "/" + gw.hostname().hostname();
}

// The waypoint's workload for a GatewayAddress, picked among its endpoints.
WorkloadPtr resolveWaypoint(const ProxyState& state, const wl::GatewayAddress& gw, const std::string& network,
                            const Picker& pick) {
  if (gw.has_hostname()) return pickUsable(state.endpoints(gatewayKey(gw)), pick);
  if (gw.has_address()) {
    return state.workloadByAddress(gw.address().network().empty() ? network : gw.address().network(),
                                   gw.address().address());
  }
  return nullptr;
}

// Is `source` one of the workloads behind this waypoint? Its own traffic must
// go to the destination, or it would loop back to itself.
bool isWaypoint(const ProxyState& state, const wl::GatewayAddress& gw, const wl::Workload& source) {
  if (gw.has_hostname()) {
    const auto& members = state.endpoints(gatewayKey(gw));
    return std::any_of(members.begin(), members.end(), [&](const WorkloadPtr& w) { return sameWorkload(*w, source); });
  }
  WorkloadPtr w = resolveWaypoint(state, gw, source.network(), [](std::size_t) { return 0; });
  return w && sameWorkload(*w, source);
}

Request toWaypoint(const ProxyState& state, const wl::Workload& source, const wl::GatewayAddress& gw,
                   const std::string& dst_ip, uint16_t dst_port, const Picker& pick, std::string what) {
  Request r;
  WorkloadPtr waypoint = resolveWaypoint(state, gw, source.network(), pick);
  if (!waypoint || waypoint->addresses().empty()) {
    r.kind = Request::Kind::kRefuse;
    r.reason = what + " has a waypoint that has no healthy endpoint";
    return r;
  }
  r.kind = Request::Kind::kHbone;
  r.via_waypoint = true;
  r.destination = waypoint;
  r.hbone_ip = waypoint->addresses(0);
  r.hbone_port = gw.hbone_mtls_port() ? static_cast<uint16_t>(gw.hbone_mtls_port()) : 15008;
  r.target_ip = dst_ip;
  r.target_port = dst_port;
  r.authority = hostPort(dst_ip, dst_port);  // the waypoint routes on what the app dialled
  r.expected_identity = identityOf(*waypoint);
  r.same_node = !source.node().empty() && waypoint->node() == source.node();
  r.reason = what + " -> waypoint " + waypoint->namespace_() + "/" + waypoint->name();
  return r;
}

// To a chosen workload: HBONE if it speaks it, else plain TCP.
Request toWorkload(const wl::Workload& source, const WorkloadPtr& w, uint16_t target_port, std::string what) {
  Request r;
  r.destination = w;
  r.target_ip = w->addresses(0);
  r.target_port = target_port;
  r.same_node = !source.node().empty() && w->node() == source.node();
  if (w->tunnel_protocol() == wl::HBONE) {
    r.kind = Request::Kind::kHbone;
    r.hbone_ip = r.target_ip;
    r.authority = hostPort(r.target_ip, target_port);
    r.expected_identity = identityOf(*w);
    r.reason = what + " -> HBONE " + w->namespace_() + "/" + w->name();
  } else {
    r.kind = Request::Kind::kPassthrough;
    r.reason = what + " -> " + w->namespace_() + "/" + w->name() + " (not in the mesh: plain TCP)";
  }
  return r;
}

uint16_t targetPortFor(const wl::Service& svc, const std::string& svc_key, const wl::Workload& w, uint16_t port) {
  if (auto it = w.services().find(svc_key); it != w.services().end()) {
    for (const auto& p : it->second.ports()) {
      if (p.service_port() == port && p.target_port() != 0) return static_cast<uint16_t>(p.target_port());
    }
  }
  for (const auto& p : svc.ports()) {
    if (p.service_port() == port && p.target_port() != 0) return static_cast<uint16_t>(p.target_port());
  }
  return port;
}

}  // namespace

Request decide(const ProxyState& state, const wl::Workload& source, const std::string& dst_ip, uint16_t dst_port,
               const Picker& pick) {
  const std::string& network = source.network();
  if (ServicePtr svc = state.serviceByAddress(network, dst_ip)) {
    std::string key = svc->namespace_() + "/" + svc->hostname();
    std::string what = "service " + key;
    if (svc->has_waypoint() && !isWaypoint(state, svc->waypoint(), source)) {
      Request r = toWaypoint(state, source, svc->waypoint(), dst_ip, dst_port, pick, what);
      r.service = svc;
      return r;
    }
    WorkloadPtr w = pickUsable(state.endpoints(key), pick);
    if (!w) {
      Request r;
      r.kind = Request::Kind::kRefuse;
      r.service = svc;
      r.reason = what + " has no healthy endpoint";
      return r;
    }
    Request r = toWorkload(source, w, targetPortFor(*svc, key, *w, dst_port), what);
    r.service = svc;
    return r;
  }
  if (WorkloadPtr w = state.workloadByAddress(network, dst_ip)) {
    std::string what = "workload " + w->namespace_() + "/" + w->name();
    if (w->has_waypoint() && !sameWorkload(*w, source) && !isWaypoint(state, w->waypoint(), source)) {
      return toWaypoint(state, source, w->waypoint(), dst_ip, dst_port, pick, what);
    }
    Request r = toWorkload(source, w, dst_port, what);
    r.target_ip = dst_ip;  // the address dialled, of the workload's addresses
    if (r.kind == Request::Kind::kHbone) {
      r.hbone_ip = dst_ip;
      r.authority = hostPort(dst_ip, dst_port);
    }
    return r;
  }
  Request r;
  r.kind = Request::Kind::kPassthrough;
  r.target_ip = dst_ip;
  r.target_port = dst_port;
  r.reason = hostPort(dst_ip, dst_port) + " is not in the mesh: passthrough";
  return r;
}

}  // namespace ambit::ztunnel::outbound
