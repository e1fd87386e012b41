// What one delta-xDS client wants and holds for one type, and what to send it
// next. Pure logic over requests and resource sets; the stream does the I/O.
//
// Semantics (xDS incremental protocol):
//  - a first request with no names, or the name "*", subscribes to everything
//    (wildcard); explicit names may be canonical names or aliases ("network/ip");
//  - initial_resource_versions tells what a reconnecting client already holds,
//    so unchanged resources are not sent again;
//  - resources the client holds that no longer exist are sent as removed;
//  - an explicitly requested name that does not exist is answered once as
//    removed, so the client knows it does not exist (on-demand lookups).
//
// Cost: what a client holds is kept as "exactly this resource set" (a shared
// pointer, no copy) plus a small overlay of differences. A wildcard client in
// step with the previous set is diffed by that set's change log alone, so one
// change to a 10k-resource type costs each client O(change), not O(10k).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "controlplane/xds/resource_set.h"
#include "envoy/service/discovery/v3/discovery.pb.h"

namespace ambit::controlplane::xds {

struct Delta {
  std::vector<std::string> upserts;  // canonical names to send with their current version
  std::vector<std::string> removed;  // names to list in removed_resources
  bool empty() const { return upserts.empty() && removed.empty(); }
};

class DeltaSubscription {
 public:
  using Resources = std::shared_ptr<const TypeResources>;

  void onRequest(const envoy::service::discovery::v3::DeltaDiscoveryRequest& req, bool first,
                 const TypeResources* current);
  // Upserts and removals are each sorted by name.
  Delta diff(const Resources& res) const;
  // Records that `d` was sent. `complete`: d was the whole diff against `res`
  // (not cut short to bound the response), so the client now holds what it wants of it.
  void markSent(const Delta& d, const Resources& res, bool complete);

  bool wildcard() const { return wildcard_; }
  const std::set<std::string>& explicitNames() const { return explicit_; }
  // Does the client hold this resource (canonical name)?
  bool holds(const std::string& name) const { return held(name).has_value(); }
  std::size_t heldCount() const;

 private:
  std::optional<uint64_t> held(const std::string& name) const;
  // Upsert or remove `name` if what the client holds differs from what it wants.
  void compare(const std::string& name, const TypeResources& res, const std::set<std::string>& wanted_explicit,
               Delta& d) const;

  bool wildcard_ = false;
  std::set<std::string> explicit_;
  std::set<std::string> reported_missing_;
  Resources base_;                                       // the client holds all of it ...
  std::map<std::string, std::optional<uint64_t>> overlay_;  // ... except: name -> version held (nullopt = none)
};

}  // namespace ambit::controlplane::xds
