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
struct Snapshot {
  uint64_t version = 0;
  std::map<std::string, Namespace> namespaces;
  std::map<std::string, Pod> pods;
  std::map<std::string, Service> services;
  std::map<std::string, EndpointSlice> endpoint_slices;
  std::map<std::string, ServiceEntry> service_entries;
  std::map<std::string, VirtualService> virtual_services;
  std::map<std::string, DestinationRule> destination_rules;
  std::map<std::string, AuthorizationPolicy> authorization_policies;
  std::map<std::string, PeerAuthentication> peer_authentications;
  std::map<std::string, Gateway> gateways;
  std::map<std::string, HTTPRoute> http_routes;

  std::size_t size() const;
  // Adds an object under its key; false if the key is taken.
  bool insert(const Object& o);
};

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
  void rebuildLocked();

  mutable std::mutex mu_;
  std::map<std::string, std::vector<Object>> by_owner_;
  std::map<std::string, std::string> key_owner_;  // object key -> owner
  std::shared_ptr<const Snapshot> snapshot_;
  uint64_t version_ = 0;
  std::vector<Listener> listeners_;
};

}  // namespace ambit::controlplane
