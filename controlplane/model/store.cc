// ModelStore: per-owner object lists, rebuilt into a fresh snapshot on change.
#include "controlplane/model/store.h"

#include <fmt/format.h>

namespace ambit::controlplane {

std::size_t Snapshot::size() const {
  return namespaces.size() + pods.size() + services.size() + endpoint_slices.size() + service_entries.size() +
         virtual_services.size() + destination_rules.size() + authorization_policies.size() +
         peer_authentications.size() + gateways.size() + http_routes.size();
}

bool Snapshot::insert(const Object& o) {
  return std::visit(
      [this](const auto& v) {
        using T = std::decay_t<decltype(v)>;
        std::string key = v.meta.ns.empty() ? v.meta.name : v.meta.ns + "/" + v.meta.name;
        auto put = [&](auto& map) { return map.emplace(key, v).second; };
        if constexpr (std::is_same_v<T, Namespace>) return put(namespaces);
        else if constexpr (std::is_same_v<T, Pod>) return put(pods);
        else if constexpr (std::is_same_v<T, Service>) return put(services);
        else if constexpr (std::is_same_v<T, EndpointSlice>) return put(endpoint_slices);
        else if constexpr (std::is_same_v<T, ServiceEntry>) return put(service_entries);
        else if constexpr (std::is_same_v<T, VirtualService>) return put(virtual_services);
        else if constexpr (std::is_same_v<T, DestinationRule>) return put(destination_rules);
        else if constexpr (std::is_same_v<T, AuthorizationPolicy>) return put(authorization_policies);
        else if constexpr (std::is_same_v<T, PeerAuthentication>) return put(peer_authentications);
        else if constexpr (std::is_same_v<T, Gateway>) return put(gateways);
        else return put(http_routes);
      },
      o);
}

ModelStore::ModelStore() : snapshot_(std::make_shared<Snapshot>()) {}

Status ModelStore::replace(const std::string& owner, std::vector<Object> objects) {
  std::vector<Listener> listeners;
  std::shared_ptr<const Snapshot> snap;
  {
    std::lock_guard lock(mu_);
    std::map<std::string, const Object*> seen;
    for (const auto& o : objects) {
      std::string key = objectKey(o);
      auto it = key_owner_.find(key);
      if (it != key_owner_.end() && it->second != owner) {
        return makeError(ErrorCode::kAlreadyExists, "{} ({}) is already declared in {}", key, metaOf(o).origin,
                         it->second);
      }
      auto [dup, fresh] = seen.emplace(key, &o);
      if (!fresh) {
        return makeError(ErrorCode::kAlreadyExists, "{} is declared twice: {} and {}", key,
                         metaOf(*dup->second).origin, metaOf(o).origin);
      }
    }
    for (auto it = key_owner_.begin(); it != key_owner_.end();) {
      it = it->second == owner ? key_owner_.erase(it) : std::next(it);
    }
    for (const auto& [key, _] : seen) key_owner_[key] = owner;
    if (objects.empty()) by_owner_.erase(owner);
    else by_owner_[owner] = std::move(objects);
    rebuildLocked();
    snap = snapshot_;
    listeners = listeners_;
  }
  for (auto& l : listeners) l(snap);
  return okStatus();
}

void ModelStore::remove(const std::string& owner) {
  // An empty replace cannot collide with anyone.
  (void)replace(owner, {});
}

void ModelStore::rebuildLocked() {
  auto snap = std::make_shared<Snapshot>();
  snap->version = ++version_;
  for (const auto& [owner, objects] : by_owner_) {
    for (const auto& o : objects) snap->insert(o);
  }
  snapshot_ = std::move(snap);
}

std::shared_ptr<const Snapshot> ModelStore::current() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

void ModelStore::onChange(Listener listener) {
  std::lock_guard lock(mu_);
  listeners_.push_back(std::move(listener));
}

}  // namespace ambit::controlplane
