// What the waypoint holds from xDS besides WDS: each host's route
// configuration (ambit.route.v1.HostConfig, compiled once per update) and the
// L7 authorization policies (ambit.authz.v1.HttpPolicy). Each response is
// validated all or nothing: a HostConfig that does not compile (a regex RE2
// refuses) or a policy with a malformed IP block NACKs the response and the
// last good table stays. Published as immutable snapshots.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ambit/authz/v1/http_policy.pb.h"
#include "common/xds/delta_client.h"
#include "waypoint/route/match.h"

namespace ambit::waypoint {

inline constexpr const char* kHostConfigTypeUrl = "type.googleapis.com/ambit.route.v1.HostConfig";
inline constexpr const char* kHttpPolicyTypeUrl = "type.googleapis.com/ambit.authz.v1.HttpPolicy";

using PolicyPtr = std::shared_ptr<const ambit::authz::v1::HttpPolicy>;

class RouteTable {
 public:
  // The compiled routes of `hostname`, or null (no routing: the host itself).
  const route::CompiledHost* host(const std::string& hostname) const;
  // The policies that apply to a request through this waypoint for a service:
  // those whose targets name this waypoint's Gateway, or the Service.
  std::vector<const ambit::authz::v1::HttpPolicy*> policiesFor(const std::string& gateway_ns,
                                                               const std::string& gateway_name,
                                                               const std::string& service_ns,
                                                               const std::string& service_name) const;
  std::size_t hostCount() const { return hosts_.size(); }
  std::size_t policyCount() const { return policies_.size(); }
  nlohmann::json dump() const;

 private:
  friend class RouteStore;
  std::map<std::string, std::shared_ptr<const route::CompiledHost>> hosts_;  // by hostname
  std::map<std::string, PolicyPtr> policies_;                                // by "ns/name"
};

class RouteStore {
 public:
  RouteStore();
  ~RouteStore();
  // Never null. Thread-safe.
  std::shared_ptr<const RouteTable> current() const;

  xds::TypeHandler& hostHandler() { return *host_handler_; }
  xds::TypeHandler& policyHandler() { return *policy_handler_; }

 private:
  class HostHandler;
  class PolicyHandler;
  void publish();

  std::map<std::string, std::shared_ptr<const route::CompiledHost>> hosts_;  // xDS thread only
  std::map<std::string, PolicyPtr> policies_;                                // xDS thread only
  std::unique_ptr<xds::TypeHandler> host_handler_;
  std::unique_ptr<xds::TypeHandler> policy_handler_;
  mutable std::mutex mu_;
  std::shared_ptr<const RouteTable> current_;
};

}  // namespace ambit::waypoint
