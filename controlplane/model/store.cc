// ModelStore: per-owner object lists, rebuilt into a fresh snapshot on change.
#include "controlplane/model/store.h"

#include <fmt/format.h>

namespace ambit::controlplane {

std::size_t Snapshot::size() const {
  return namespaces.size() + pods.size() + services.size() + endpoint_slices.size() + service_entries.size() +
         virtual_services.size() + destination_rules.size() + authorization_policies.size() +
         peer_authentications.size() + gateways.size() + http_routes.size();
}

namespace {

std::string keyOf(const ObjectMeta& m) { return m.ns.empty() ? m.name : m.ns + "/" + m.name; }

// Calls f(map) with the snapshot map that holds objects of o's kind.
template <typename S, typename F>
decltype(auto) withMap(S& snap, const Object& o, F&& f) {
  return std::visit(
      [&](const auto& v) -> decltype(auto) {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, Namespace>) return f(snap.namespaces, v);
        else if constexpr (std::is_same_v<T, Pod>) return f(snap.pods, v);
        else if constexpr (std::is_same_v<T, Service>) return f(snap.services, v);
        else if constexpr (std::is_same_v<T, EndpointSlice>) return f(snap.endpoint_slices, v);
        else if constexpr (std::is_same_v<T, ServiceEntry>) return f(snap.service_entries, v);
        else if constexpr (std::is_same_v<T, VirtualService>) return f(snap.virtual_services, v);
        else if constexpr (std::is_same_v<T, DestinationRule>) return f(snap.destination_rules, v);
        else if constexpr (std::is_same_v<T, AuthorizationPolicy>) return f(snap.authorization_policies, v);
        else if constexpr (std::is_same_v<T, PeerAuthentication>) return f(snap.peer_authentications, v);
        else if constexpr (std::is_same_v<T, Gateway>) return f(snap.gateways, v);
        else return f(snap.http_routes, v);
      },
      o);
}

}  // namespace

bool Snapshot::insert(const Object& o) { return insert(std::make_shared<const Object>(o)); }

bool Snapshot::insert(std::shared_ptr<const Object> o) {
  return withMap(*this, *o, [&](auto& map, const auto& v) {
    using T = std::decay_t<decltype(v)>;
    // Aliasing: the map entry points at the alternative, and keeps the variant alive.
    return map.emplace(keyOf(v.meta), std::shared_ptr<const T>(o, &v)).second;
  });
}

void Snapshot::erase(const Object& o) {
  withMap(*this, o, [&](auto& map, const auto& v) { map.erase(keyOf(v.meta)); });
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
    // The next snapshot: the current one's pointers, minus this owner's old
    // objects, plus its new ones.
    auto next = std::make_shared<Snapshot>(*snapshot_);
    next->version = ++version_;
    if (auto old = by_owner_.find(owner); old != by_owner_.end()) {
      for (const auto& o : old->second) {
        next->erase(*o);
        key_owner_.erase(objectKey(*o));
      }
      by_owner_.erase(old);
    }
    if (!objects.empty()) {
      auto& mine = by_owner_[owner];
      mine.reserve(objects.size());
      for (auto& o : objects) {
        key_owner_[objectKey(o)] = owner;
        mine.push_back(std::make_shared<const Object>(std::move(o)));
        next->insert(mine.back());
      }
    }
    snapshot_ = std::move(next);
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

std::shared_ptr<const Snapshot> ModelStore::current() const {
  std::lock_guard lock(mu_);
  return snapshot_;
}

void ModelStore::onChange(Listener listener) {
  std::lock_guard lock(mu_);
  listeners_.push_back(std::move(listener));
}

}  // namespace ambit::controlplane
