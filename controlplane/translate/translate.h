// Translation: the model -> what ztunnel consumes over xDS. Pure functions of a
// snapshot and the mesh settings, so every Istio edge case is a table test.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "controlplane/model/store.h"
#include "ambit/authz/v1/http_policy.pb.h"
#include "ambit/route/v1/route.pb.h"
#include "istio/security/authorization.pb.h"
#include "istio/workload/workload.pb.h"

namespace ambit::controlplane {

// The WDS Workload extension that carries a pod's labels (ambit.route.v1.WorkloadLabels).
inline constexpr const char* kLabelsExtension = "ambit.dev/labels";

struct MeshSettings {
  std::string trust_domain = "cluster.local";
  std::string domain_suffix = "cluster.local";  // <svc>.<ns>.svc.<suffix>
  std::string root_namespace = "istio-system";  // policies here are mesh-wide
  std::string network;                          // "" = the default network
  std::string cluster_id = "Kubernetes";
};

// Everything ztunnel gets, keyed by xDS resource name:
//   addresses: Workload uid, or "namespace/hostname" for a Service;
//   authorizations: "namespace/name";
//   routes: destination host FQDN (the waypoint's route configuration).
struct Translated {
  std::map<std::string, istio::workload::Address> addresses;
  std::map<std::string, istio::security::Authorization> authorizations;
  std::map<std::string, ambit::route::v1::HostConfig> routes;
  std::map<std::string, ambit::authz::v1::HttpPolicy> http_policies;  // "namespace/name", for waypoints
  std::vector<std::string> warnings;  // e.g. a use-waypoint label naming no waypoint
};

Translated translate(const Snapshot& snap, const MeshSettings& mesh);

// ---- the decisions, exposed for table tests ----

// Is the pod captured by the mesh? Pod label istio.io/dataplane-mode wins over
// its namespace's (ambient | none); host-network pods never are.
bool podEnrolled(const Pod& pod, const Namespace* ns);

// Istio's uid for a pod: "<cluster>//Pod/<namespace>/<name>".
std::string podUid(const MeshSettings& mesh, const Pod& pod);
std::string serviceHostname(const MeshSettings& mesh, const Service& svc);

// Does a label selector select these labels? (All pairs present and equal; an
// empty selector selects everything.)
bool selects(const Labels& selector, const Labels& labels);

// WDS app protocol from a Service port's appProtocol or name prefix ("http-web").
istio::workload::AppProtocol appProtocolFor(const std::string& app_protocol, const std::string& port_name);

// PeerAuthentication: the effective mTLS mode ("STRICT", "PERMISSIVE", "DISABLE")
// of a workload on each of its ports; key 0 is the default for other ports.
// Workload-selector policy > namespace policy > mesh-wide (root namespace) policy;
// UNSET inherits from the next level.
std::map<uint16_t, std::string> effectiveMtls(const Snapshot& snap, const MeshSettings& mesh, const Pod& pod);

// Name of the generated DENY policy that enforces effective STRICT mTLS (shared
// by every pod of a namespace with the same port exceptions), "" when none applies.
std::string peerAuthenticationPolicyName(const std::map<uint16_t, std::string>& modes);

// AuthorizationPolicy -> Authorization for ztunnel; nullopt when ztunnel does not
// enforce it (targetRefs -> waypoint; AUDIT; CUSTOM). `warnings` gains a line
// when rules were dropped or narrowed for L7 content.
std::optional<istio::security::Authorization> translatePolicy(const AuthorizationPolicy& ap, const MeshSettings& mesh,
                                                               std::vector<std::string>& warnings);

// AuthorizationPolicy with targetRefs -> HttpPolicy for the waypoints it
// targets (a Gateway, or a Service a waypoint serves): rules kept as written
// (serviceAccounts become principals in any trust domain); nullopt without
// targetRefs, for CUSTOM, or when no targetRef is a Gateway or Service.
std::optional<ambit::authz::v1::HttpPolicy> translateHttpPolicy(const AuthorizationPolicy& ap,
                                                                std::vector<std::string>& warnings);

// VirtualService / HTTPRoute / DestinationRule -> HostConfig per destination host
// (docs/route-config.md): VirtualServices bound to the mesh, one per host (first
// by namespace/name); HTTPRoutes whose parentRef is a Service, ordered by the
// Gateway API precedence rules and preferred over a VirtualService for the same
// host; the most specific DestinationRule per host with subset policies merged
// field by field; unknown hosts and subsets marked unresolved (answered 500).
std::map<std::string, ambit::route::v1::HostConfig> translateRoutes(const Snapshot& snap, const MeshSettings& mesh,
                                                                    std::vector<std::string>& warnings);

// A short name ("reviews") is relative to the namespace; names with a dot are FQDNs.
std::string resolveHost(const MeshSettings& mesh, const std::string& host, const std::string& ns);
// "*" matches every host, "*.example.com" any name ending in ".example.com".
bool hostMatches(const std::string& pattern, const std::string& host);

}  // namespace ambit::controlplane
