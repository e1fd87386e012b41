#include "waypoint/upstream/endpoints.h"

#include <algorithm>

namespace ambit::waypoint::upstream {

namespace wl = istio::workload;

ServicePtr serviceForHost(const ProxyState& state, const std::string& host, const std::string& ns_hint) {
  // <name>.<namespace>.svc.<suffix>
  auto first = host.find('.');
  if (first != std::string::npos) {
    auto second = host.find('.', first + 1);
    if (second != std::string::npos && host.compare(second, 5, ".svc.") == 0) {
      if (auto s = state.serviceByName(host.substr(first + 1, second - first - 1) + "/" + host)) return s;
    }
  }
  if (!ns_hint.empty()) {
    if (auto s = state.serviceByName(ns_hint + "/" + host)) return s;
  }
  for (const auto& s : state.allServices()) {
    if (s->hostname() == host) return s;
  }
  return nullptr;
}

std::map<std::string, std::string> labelsOf(const wl::Workload& w) {
  std::map<std::string, std::string> out;
  for (const auto& ext : w.extensions()) {
    if (ext.name() != "ambit.dev/labels") continue;
    rv1::WorkloadLabels l;
    if (ext.config().UnpackTo(&l)) out.insert(l.labels().begin(), l.labels().end());
  }
  return out;
}

std::vector<Endpoint> endpointsFor(const ProxyState& state, const wl::Service& service, uint16_t service_port,
                                   const std::map<std::string, std::string>& subset) {
  std::string key = service.namespace_() + "/" + service.hostname();
  uint16_t svc_target = 0;
  for (const auto& p : service.ports()) {
    if (p.service_port() == service_port) svc_target = static_cast<uint16_t>(p.target_port());
  }
  std::vector<Endpoint> out;
  for (const auto& w : state.endpoints(key)) {
    if (w->status() != wl::HEALTHY || w->addresses().empty()) continue;
    if (!subset.empty()) {
      auto labels = labelsOf(*w);
      bool ok = std::all_of(subset.begin(), subset.end(), [&](const auto& kv) {
        auto it = labels.find(kv.first);
        return it != labels.end() && it->second == kv.second;
      });
      if (!ok) continue;
    }
    uint16_t port = svc_target != 0 ? svc_target : service_port;
    if (auto it = w->services().find(key); it != w->services().end()) {
      for (const auto& p : it->second.ports()) {
        if (p.service_port() == service_port && p.target_port() != 0)
          port = static_cast<uint16_t>(p.target_port());
      }
    }
    out.push_back({w, w->addresses(0), port, w->tunnel_protocol() == wl::HBONE});
  }
  return out;
}

std::optional<std::size_t> pickEndpoint(const std::vector<Endpoint>& endpoints, const PickInput& in) {
  if (endpoints.empty()) return std::nullopt;
  std::vector<std::size_t> usable;
  usable.reserve(endpoints.size());
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    if (!in.avoid || !in.avoid(endpoints[i])) usable.push_back(i);
  }
  if (usable.empty()) {
    for (std::size_t i = 0; i < endpoints.size(); ++i) usable.push_back(i);
  }
  auto draw = [&](double u) {
    return usable[std::min(usable.size() - 1, static_cast<std::size_t>(u * usable.size()))];
  };
  switch (in.policy) {
    case rv1::TrafficPolicy::ROUND_ROBIN:
      return usable[in.round_robin % usable.size()];
    case rv1::TrafficPolicy::RANDOM:
    case rv1::TrafficPolicy::PASSTHROUGH:
      return draw(in.unit);
    case rv1::TrafficPolicy::CONSISTENT_HASH:
      if (in.hash) {
        // Rendezvous hashing: the endpoint with the highest hash(key, endpoint)
        // wins, so a key moves only when its endpoint goes.
        std::size_t best = usable[0];
        uint64_t best_score = 0;
        for (std::size_t i : usable) {
          uint64_t score = hashKey(std::to_string(*in.hash) + "/" + endpoints[i].key());
          if (score >= best_score) {
            best_score = score;
            best = i;
          }
        }
        return best;
      }
      return draw(in.unit);
    case rv1::TrafficPolicy::DEFAULT:
    case rv1::TrafficPolicy::LEAST_REQUEST:
    default: {
      // Envoy's least request: the less loaded of two random choices.
      std::size_t a = draw(in.unit), b = draw(in.unit2);
      if (!in.active) return a;
      return in.active(endpoints[b]) < in.active(endpoints[a]) ? b : a;
    }
  }
}

uint64_t hashKey(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace ambit::waypoint::upstream
