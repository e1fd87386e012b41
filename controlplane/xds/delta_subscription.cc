// DeltaSubscription: subscribe/unsubscribe bookkeeping and diffing.
#include "controlplane/xds/delta_subscription.h"

namespace ambit::controlplane::xds {

void DeltaSubscription::onRequest(const envoy::service::discovery::v3::DeltaDiscoveryRequest& req, bool first,
                                  const TypeResources* current) {
  if (first) {
    if (req.resource_names_subscribe_size() == 0) wildcard_ = true;
    for (const auto& [name, version] : req.initial_resource_versions()) known_[name] = version;
  }
  for (const auto& n : req.resource_names_subscribe()) {
    if (n == "*") wildcard_ = true;
    else explicit_.insert(n);
  }
  for (const auto& n : req.resource_names_unsubscribe()) {
    if (n == "*") {
      wildcard_ = false;
      continue;
    }
    explicit_.erase(n);
    reported_missing_.erase(n);
    if (!wildcard_) {
      // The client forgets what it unsubscribed from; so do we.
      std::string canonical = current ? current->resolve(n) : std::string();
      known_.erase(canonical.empty() ? n : canonical);
    }
  }
}

Delta DeltaSubscription::diff(const TypeResources& res) const {
  Delta d;
  std::set<std::string> wanted;
  if (wildcard_) {
    for (const auto& [name, _] : res.by_name) wanted.insert(name);
  }
  for (const auto& n : explicit_) {
    std::string canonical = res.resolve(n);
    if (!canonical.empty()) wanted.insert(canonical);
    else if (!reported_missing_.count(n) && !known_.count(n)) d.removed.push_back(n);
  }
  for (const auto& name : wanted) {
    auto known = known_.find(name);
    if (known == known_.end() || known->second != res.by_name.at(name).version) d.upserts.push_back(name);
  }
  for (const auto& [name, _] : known_) {
    if (!wanted.count(name)) d.removed.push_back(name);
  }
  return d;
}

void DeltaSubscription::markSent(const Delta& d, const TypeResources& res) {
  for (const auto& name : d.upserts) known_[name] = res.by_name.at(name).version;
  for (const auto& name : d.removed) {
    known_.erase(name);
    if (explicit_.count(name)) reported_missing_.insert(name);
  }
}

}  // namespace ambit::controlplane::xds
