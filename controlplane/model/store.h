// The model store: every object from every source, as immutable snapshots.
// Objects are owned by the place they came from (a file path, later a watch),
// so replacing one file's content replaces exactly its objects, and a file that
// fails to parse can be left out while its previous objects stay in force.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "controlplane/model/objects.h"

namespace ambit::controlplane {

// One consistent view of the model. Maps are keyed "namespace/name" (name alone
// for Namespaces), so iteration order is stable and translation is deterministic.
// Objects are immutable and shared between snapshots: a change to one file
// makes a new snapshot by copying pointers, not objects.
template <typename T>
using ObjectMap = std::map<std::string, std::shared_ptr<const T>>;

struct Snapshot {
  uint64_t version = 0;
  ObjectMap<Namespace> namespaces;
  ObjectMap<Pod> pods;
  ObjectMap<Service> services;
  ObjectMap<EndpointSlice> endpoint_slices;
  ObjectMap<ServiceEntry> service_entries;
  ObjectMap<VirtualService> virtual_services;
  ObjectMap<DestinationRule> destination_rules;
  ObjectMap<AuthorizationPolicy> authorization_policies;
  ObjectMap<PeerAuthentication> peer_authentications;
  ObjectMap<Gateway> gateways;
  ObjectMap<HTTPRoute> http_routes;

  std::size_t size() const;
  // Adds an object under its key; false if the key is taken.
  bool insert(const Object& o);
  bool insert(std::shared_ptr<const Object> o);
  // Removes the object with o's kind and key, if present.
  void erase(const Object& o);
};

// The objects of one namespace: keys "ns/..." are contiguous in the map.
template <typename T>
struct NamespaceRange {
  typename ObjectMap<T>::const_iterator first, last;
  auto begin() const { return first; }
  auto end() const { return last; }
};
template <typename T>
NamespaceRange<T> inNamespace(const ObjectMap<T>& map, const std::string& ns) {
  // '0' is the character after '/': [ns + "/", ns + "0") is exactly "ns/*".
  return {map.lower_bound(ns + "/"), map.lower_bound(ns + "0")};
}

class ModelStore {
 public:
  using Listener = std::function<void(std::shared_ptr<const Snapshot>)>;

  ModelStore();

  // Replaces what `owner` contributed with `objects`. Fails, changing nothing,
  // when an object's key is already owned by someone else (same Pod in two files).
  Status replace(const std::string& owner, std::vector<Object> objects);
  // Removes everything `owner` contributed (a deleted file).
  void remove(const std::string& owner);

  std::shared_ptr<const Snapshot> current() const;
  // Called (on the thread that changed the store) after every change.
  void onChange(Listener listener);

 private:

  mutable std::mutex mu_;
  std::map<std::string, std::vector<std::shared_ptr<const Object>>> by_owner_;
  std::map<std::string, std::string> key_owner_;  // object key -> owner
  std::shared_ptr<const Snapshot> snapshot_;
  uint64_t version_ = 0;
  std::vector<Listener> listeners_;
};

}  // namespace ambit::controlplane
