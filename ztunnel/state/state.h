// ProxyState: what ztunnel knows from WDS and authorization xDS, as one
// immutable snapshot indexed for O(1) lookups on the data path: workloads by
// uid and by network address, services by "namespace/hostname" and by VIP,
// each service's endpoints, and the policy set. An xDS update builds a new
// snapshot; connections keep the one they started with (readers never lock).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/tls/spiffe_id.h"
#include "istio/workload/workload.pb.h"
#include "ztunnel/authz/engine.h"

namespace ambit::ztunnel {

using AddressPtr = std::shared_ptr<const istio::workload::Address>;
using WorkloadPtr = std::shared_ptr<const istio::workload::Workload>;
using ServicePtr = std::shared_ptr<const istio::workload::Service>;

// The identity a workload's certificate carries.
tls::Identity identityOf(const istio::workload::Workload& w);

class ProxyState {
 public:
  // `addresses`: WDS resources by name; `policies`: Authorization by "ns/name".
  // The snapshot shares the messages (no copies): an xDS update that changes
  // one workload builds new indexes over mostly the same objects.
  static std::shared_ptr<const ProxyState> build(const std::map<std::string, AddressPtr>& addresses,
                                                 std::map<std::string, authz::PolicyPtr> policies);
  // For tests and tools: copies plain messages first.
  static std::shared_ptr<const ProxyState> build(const std::map<std::string, istio::workload::Address>& addresses,
                                                 std::map<std::string, authz::PolicyPtr> policies);

  // `ip`: 4 or 16 raw bytes; v4-mapped v6 is looked up as v4.
  WorkloadPtr workloadByAddress(const std::string& network, const std::string& ip) const;
  WorkloadPtr workloadByUid(const std::string& uid) const;
  ServicePtr serviceByAddress(const std::string& network, const std::string& ip) const;
  ServicePtr serviceByName(const std::string& ns_hostname) const;  // "ns/hostname"
  // Workloads that back a service ("ns/hostname"), in uid order.
  const std::vector<WorkloadPtr>& endpoints(const std::string& ns_hostname) const;
  const authz::PolicySet& policies() const { return policies_; }
  // The workloads scheduled on `node`, in uid order (O(workloads): for updates, not per connection).
  std::vector<WorkloadPtr> workloadsOnNode(const std::string& node) const;

  // Every workload (by uid) and service (by "ns/hostname"), sorted: for /config_dump.
  std::vector<WorkloadPtr> allWorkloads() const;
  std::vector<ServicePtr> allServices() const;

  std::size_t workloadCount() const { return by_uid_.size(); }
  std::size_t serviceCount() const { return services_.size(); }

 private:
  std::unordered_map<std::string, WorkloadPtr> by_uid_;
  std::unordered_map<std::string, WorkloadPtr> workload_by_addr_;  // network + "/" + raw ip
  std::unordered_map<std::string, ServicePtr> services_;           // "ns/hostname"
  std::unordered_map<std::string, ServicePtr> service_by_addr_;
  std::unordered_map<std::string, std::vector<WorkloadPtr>> endpoints_;
  authz::PolicySet policies_;
};

}  // namespace ambit::ztunnel
