// ProxyState indexes.
#include "ztunnel/state/state.h"

#include <algorithm>
#include <cstring>

namespace ambit::ztunnel {

namespace {

std::string addrKey(const std::string& network, const std::string& raw) {
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (raw.size() == 16 && std::memcmp(raw.data(), kMapped, 12) == 0) return network + "/" + raw.substr(12);
  return network + "/" + raw;
}

template <typename Map>
auto findOr(const Map& m, const std::string& k) -> typename Map::mapped_type {
  auto it = m.find(k);
  return it == m.end() ? typename Map::mapped_type{} : it->second;
}

}  // namespace

tls::Identity identityOf(const istio::workload::Workload& w) {
  return tls::Identity{w.trust_domain().empty() ? "cluster.local" : w.trust_domain(), w.namespace_(),
                       w.service_account().empty() ? "default" : w.service_account()};
}

std::shared_ptr<const ProxyState> ProxyState::build(const std::map<std::string, istio::workload::Address>& addresses,
                                                    std::map<std::string, authz::PolicyPtr> policies) {
  std::map<std::string, AddressPtr> shared;
  for (const auto& [name, a] : addresses) shared[name] = std::make_shared<const istio::workload::Address>(a);
  return build(shared, std::move(policies));
}

std::shared_ptr<const ProxyState> ProxyState::build(const std::map<std::string, AddressPtr>& addresses,
                                                    std::map<std::string, authz::PolicyPtr> policies) {
  auto s = std::make_shared<ProxyState>();
  std::map<std::string, WorkloadPtr> ordered;  // uid order makes endpoint lists deterministic
  for (const auto& [name, a] : addresses) {
    if (a->has_workload()) {
      WorkloadPtr w(a, &a->workload());  // aliases the Address: shares its lifetime, no copy
      ordered[w->uid()] = w;
    } else if (a->has_service()) {
      ServicePtr svc(a, &a->service());
      s->services_[svc->namespace_() + "/" + svc->hostname()] = svc;
      for (const auto& na : svc->addresses()) s->service_by_addr_[addrKey(na.network(), na.address())] = svc;
    }
  }
  for (const auto& [uid, w] : ordered) {
    s->by_uid_[uid] = w;
    for (const auto& ip : w->addresses()) s->workload_by_addr_[addrKey(w->network(), ip)] = w;
    for (const auto& [svc_key, ports] : w->services()) s->endpoints_[svc_key].push_back(w);
  }
  s->policies_ = authz::PolicySet(std::move(policies));
  return s;
}

WorkloadPtr ProxyState::workloadByAddress(const std::string& network, const std::string& ip) const {
  return findOr(workload_by_addr_, addrKey(network, ip));
}
WorkloadPtr ProxyState::workloadByUid(const std::string& uid) const { return findOr(by_uid_, uid); }
ServicePtr ProxyState::serviceByAddress(const std::string& network, const std::string& ip) const {
  return findOr(service_by_addr_, addrKey(network, ip));
}
ServicePtr ProxyState::serviceByName(const std::string& ns_hostname) const { return findOr(services_, ns_hostname); }

std::vector<WorkloadPtr> ProxyState::workloadsOnNode(const std::string& node) const {
  std::map<std::string, WorkloadPtr> ordered;
  for (const auto& [uid, w] : by_uid_) {
    if (w->node() == node) ordered.emplace(uid, w);
  }
  std::vector<WorkloadPtr> out;
  out.reserve(ordered.size());
  for (auto& [uid, w] : ordered) out.push_back(std::move(w));
  return out;
}

const std::vector<WorkloadPtr>& ProxyState::endpoints(const std::string& ns_hostname) const {
  static const std::vector<WorkloadPtr> kNone;
  auto it = endpoints_.find(ns_hostname);
  return it == endpoints_.end() ? kNone : it->second;
}

std::vector<WorkloadPtr> ProxyState::allWorkloads() const {
  std::vector<WorkloadPtr> out;
  out.reserve(by_uid_.size());
  for (const auto& [uid, w] : by_uid_) out.push_back(w);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a->uid() < b->uid(); });
  return out;
}

std::vector<ServicePtr> ProxyState::allServices() const {
  std::vector<std::pair<std::string, ServicePtr>> keyed(services_.begin(), services_.end());
  std::sort(keyed.begin(), keyed.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<ServicePtr> out;
  for (auto& [k, s] : keyed) out.push_back(s);
  return out;
}

}  // namespace ambit::ztunnel
