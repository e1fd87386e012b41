// ztunnel's L4 authorization: Istio's semantics over the Authorization
// resources ambitd serves (proto/istio/security/authorization.proto).
//
//   - the policies that apply to a destination workload: mesh-wide (GLOBAL),
//     its namespace's (NAMESPACE), and the selector policies the workload lists
//     by name (Workload.authorization_policies, "ns/name");
//   - dry-run policies are evaluated and reported, never enforced;
//   - any matching DENY rejects; with no ALLOW policy, the connection is
//     allowed; otherwise some ALLOW policy must match;
//   - a policy matches when any of its groups does; a group when all of its
//     rules do; a rule when any of its matches does; a match when every field
//     it sets holds: a positive list must contain the value, a not_ list must
//     not (an absent value, e.g. no peer principal on plaintext, matches no
//     positive list and every not_ list, as in Envoy's RBAC).
//
// Pure functions over plain structs: everything here is table-tested.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/tls/spiffe_id.h"
#include "istio/security/authorization.pb.h"
#include "istio/workload/workload.pb.h"

namespace ambit::ztunnel::authz {

// What the proxy knows of a connection at L4.
struct Connection {
  std::optional<tls::Identity> source;  // the mTLS peer; nullopt for plaintext
  std::string source_ip;                // 4 or 16 raw bytes (v4-mapped v6 is treated as v4)
  std::string destination_ip;
  uint16_t destination_port = 0;
};

bool matches(const istio::security::Match& m, const Connection& c);
bool matches(const istio::security::Authorization& policy, const Connection& c);

struct Decision {
  bool allowed = true;
  std::string policy;  // "ns/name" of the deciding policy; "" when none decided
  std::string reason;  // for logs: "denied by policy ns/name", "no ALLOW policy matched", ...
  // With dry-run policies present: the outcome had they been enforced (logged, not applied).
  std::optional<bool> dry_run_allowed;
  std::string dry_run_reason;
};

using PolicyPtr = std::shared_ptr<const istio::security::Authorization>;

Decision decide(const std::vector<PolicyPtr>& policies, const Connection& c);

// Every Authorization ztunnel holds, indexed by scope. Immutable once built:
// a policy change builds a new set (readers never lock).
class PolicySet {
 public:
  PolicySet() = default;
  explicit PolicySet(std::map<std::string, PolicyPtr> by_name);  // key "ns/name"

  // The policies that apply to connections to `dst`, in a stable order.
  std::vector<PolicyPtr> applicable(const istio::workload::Workload& dst) const;
  const std::map<std::string, PolicyPtr>& all() const { return by_name_; }

 private:
  std::map<std::string, PolicyPtr> by_name_;
  std::vector<PolicyPtr> global_;
  std::map<std::string, std::vector<PolicyPtr>> by_namespace_;
};

}  // namespace ambit::ztunnel::authz
