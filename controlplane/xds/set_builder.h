// SetBuilder: the model -> a ResourceSet, like buildResourceSet(translate(...)),
// but a pod whose inputs are unchanged since the last build is neither
// translated nor serialized again. A pod's inputs are the pod itself and its
// namespace's context: the Namespace, its Services, ServiceEntries and
// EndpointSlices, AuthorizationPolicies and PeerAuthentications there and in
// the root namespace, and every Gateway (waypoints). Model objects are
// immutable and shared between snapshots (store.h), so "unchanged" is pointer
// equality; the builder holds what it compared, so an address is never reused.
// Services, policies and routes are few and rebuilt every time.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "controlplane/xds/resource_set.h"

namespace ambit::controlplane::xds {

class SetBuilder {
 public:
  explicit SetBuilder(MeshSettings mesh) : mesh_(std::move(mesh)) {}

  struct Stats {
    std::size_t pods_translated = 0;
    std::size_t pods_reused = 0;
  };
  // Not thread-safe: one builder per pusher.
  std::shared_ptr<const ResourceSet> build(const Snapshot& snap, std::chrono::steady_clock::time_point changed_at,
                                           const ResourceSet* previous, Stats* stats = nullptr);

 private:
  struct NamespaceContext {
    std::vector<std::shared_ptr<const void>> inputs;
    uint64_t generation = 0;
  };
  struct PodEntry {
    std::shared_ptr<const Pod> pod;
    uint64_t generation = 0;  // of its namespace's context when it was built
    bool present = false;     // false: the pod yields no Address (no IP yet, finished)
    std::string uid;
    ResourceEntry entry;
    std::string peer_policy_key;  // "" = none
    std::pair<std::string, std::map<uint16_t, std::string>> peer_policy;
    std::vector<std::string> warnings;
  };

  uint64_t contextGeneration(const Snapshot& snap, const std::string& ns);

  MeshSettings mesh_;
  uint64_t next_generation_ = 0;
  std::map<std::string, NamespaceContext> contexts_;
  std::map<std::string, PodEntry> pods_;  // by model key "ns/name"
};

}  // namespace ambit::controlplane::xds
