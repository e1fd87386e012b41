// DeltaSubscription: subscribe/unsubscribe bookkeeping and diffing.
#include "controlplane/xds/delta_subscription.h"

#include <algorithm>

namespace ambit::controlplane::xds {

void DeltaSubscription::onRequest(const envoy::service::discovery::v3::DeltaDiscoveryRequest& req, bool first,
                                  const TypeResources* current) {
  if (first) {
    if (req.resource_names_subscribe_size() == 0) wildcard_ = true;
    for (const auto& [name, version] : req.initial_resource_versions()) overlay_[name] = versionKey(version);
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
      const std::string& name = canonical.empty() ? n : canonical;
      if (base_ && base_->by_name.count(name)) overlay_[name] = std::nullopt;
      else overlay_.erase(name);
    }
  }
}

std::optional<uint64_t> DeltaSubscription::held(const std::string& name) const {
  if (auto it = overlay_.find(name); it != overlay_.end()) return it->second;
  if (base_) {
    if (auto it = base_->by_name.find(name); it != base_->by_name.end()) return it->second.key;
  }
  return std::nullopt;
}

std::size_t DeltaSubscription::heldCount() const {
  std::size_t n = base_ ? base_->by_name.size() : 0;
  for (const auto& [name, version] : overlay_) {
    bool in_base = base_ && base_->by_name.count(name);
    n = n - (in_base ? 1 : 0) + (version ? 1 : 0);
  }
  return n;
}

void DeltaSubscription::compare(const std::string& name, const TypeResources& res,
                                const std::set<std::string>& wanted_explicit, Delta& d) const {
  auto it = res.by_name.find(name);
  bool wanted = it != res.by_name.end() && (wildcard_ || wanted_explicit.count(name));
  std::optional<uint64_t> have = held(name);
  if (wanted && have != it->second.key) d.upserts.push_back(name);
  else if (!wanted && have) d.removed.push_back(name);
}

Delta DeltaSubscription::diff(const Resources& res_ptr) const {
  const TypeResources& res = *res_ptr;
  Delta d;
  std::set<std::string> wanted_explicit;
  for (const auto& n : explicit_) {
    std::string canonical = res.resolve(n);
    if (!canonical.empty()) wanted_explicit.insert(canonical);
    else if (!reported_missing_.count(n) && !holds(n)) d.removed.push_back(n);
  }
  // The names whose state may differ between what the client holds and what it wants.
  std::set<std::string> seen;
  auto consider = [&](const std::string& name) {
    if (seen.insert(name).second) compare(name, res, wanted_explicit, d);
  };
  for (const auto& name : wanted_explicit) consider(name);
  for (const auto& [name, _] : overlay_) consider(name);
  bool step = wildcard_ && base_ && res.changes && res.changes->from_version == base_->set_version;
  if (wildcard_ && base_.get() == &res) {
    // Wants and holds this very set (plus the overlay, already considered).
  } else if (step) {
    for (const auto& name : res.changes->changed) consider(name);
    for (const auto& name : res.changes->removed) consider(name);
  } else {
    // No shortcut: every name either side knows. (Large sets: no `seen` here,
    // the passes are disjoint by construction.)
    if (wildcard_) {
      for (const auto& [name, _] : res.by_name) {
        if (!overlay_.count(name) && !wanted_explicit.count(name)) compare(name, res, wanted_explicit, d);
      }
    }
    if (base_) {
      for (const auto& [name, _] : base_->by_name) {
        if (overlay_.count(name) || wanted_explicit.count(name)) continue;
        if (wildcard_ && res.by_name.count(name)) continue;  // done above
        compare(name, res, wanted_explicit, d);
      }
    }
  }
  std::sort(d.upserts.begin(), d.upserts.end());
  std::sort(d.removed.begin(), d.removed.end());
  return d;
}

void DeltaSubscription::markSent(const Delta& d, const Resources& res, bool complete) {
  for (const auto& name : d.upserts) overlay_[name] = res->by_name.at(name).key;
  for (const auto& name : d.removed) {
    if (explicit_.count(name)) reported_missing_.insert(name);
    if (base_ && base_->by_name.count(name)) overlay_[name] = std::nullopt;
    else overlay_.erase(name);
  }
  // A wildcard client that got the whole diff holds exactly `res` (every
  // resource, at its version): drop the overlay and point at the set.
  if (complete && wildcard_) {
    base_ = res;
    overlay_.clear();
  } else if (complete && base_) {
    // No longer wildcard: keep only what it holds, so an old set is not pinned
    // and later diffs are not over every name of it.
    std::map<std::string, std::optional<uint64_t>> held_now;
    for (const auto& [name, entry] : base_->by_name) {
      if (auto v = held(name)) held_now.emplace(name, *v);
    }
    for (const auto& [name, v] : overlay_) {
      if (v) held_now.emplace(name, *v);
    }
    overlay_ = std::move(held_now);
    base_.reset();
  }
}

}  // namespace ambit::controlplane::xds
