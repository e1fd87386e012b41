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
#pragma once

#include <map>
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
  void onRequest(const envoy::service::discovery::v3::DeltaDiscoveryRequest& req, bool first,
                 const TypeResources* current);
  Delta diff(const TypeResources& res) const;
  // Records that `d` was sent, so the next diff starts from it.
  void markSent(const Delta& d, const TypeResources& res);

  bool wildcard() const { return wildcard_; }
  const std::set<std::string>& explicitNames() const { return explicit_; }
  // canonical name -> version the client holds
  const std::map<std::string, std::string>& known() const { return known_; }

 private:
  bool wildcard_ = false;
  std::set<std::string> explicit_;
  std::map<std::string, std::string> known_;
  std::set<std::string> reported_missing_;
};

}  // namespace ambit::controlplane::xds
