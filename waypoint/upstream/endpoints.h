// Where a routed request goes (pure; table-tested): the Service a destination
// host names, its usable endpoints for a port and a DestinationRule subset,
// and which endpoint a load balancer picks. Random draws are passed in.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ambit/route/v1/route.pb.h"
#include "ztunnel/state/state.h"

namespace ambit::waypoint::upstream {

using ztunnel::ProxyState;
using ztunnel::ServicePtr;
using ztunnel::WorkloadPtr;
namespace rv1 = ambit::route::v1;

// The Service of a destination host: "<name>.<namespace>.svc.<suffix>" is
// looked up in that namespace; `ns_hint` (the HostConfig's namespace) next;
// then any namespace (ServiceEntry hosts). Null when none.
ServicePtr serviceForHost(const ProxyState& state, const std::string& host, const std::string& ns_hint);

// A pod's labels, from the WDS extension ambitd adds ("ambit.dev/labels").
std::map<std::string, std::string> labelsOf(const istio::workload::Workload& w);

struct Endpoint {
  WorkloadPtr workload;
  std::string ip;     // raw bytes (4 or 16)
  uint16_t port = 0;  // the target port for the service port asked
  bool hbone = true;  // speaks HBONE (enrolled); else plain TCP
  const std::string& key() const { return workload->uid(); }
};

// The service's endpoints for `service_port`: healthy, with an address, and
// carrying every label of `subset` (empty = all), in uid order.
std::vector<Endpoint> endpointsFor(const ProxyState& state, const istio::workload::Service& service,
                                   uint16_t service_port, const std::map<std::string, std::string>& subset);

// What a load balancer knows when it picks.
struct PickInput {
  rv1::TrafficPolicy::LoadBalancer policy = rv1::TrafficPolicy::DEFAULT;  // DEFAULT = LEAST_REQUEST
  uint64_t round_robin = 0;      // a counter the caller advances per pick
  double unit = 0;               // a random draw in [0, 1)
  double unit2 = 0;              // a second draw (least request: power of two choices)
  std::optional<uint64_t> hash;  // consistent hash of the request's key, when the policy has one
  // Active requests per endpoint (least request); null = all equal.
  std::function<uint32_t(const Endpoint&)> active;
  // Endpoints to avoid when others exist: ejected (outlier detection) and,
  // on a retry, those already tried (Istio's previous-hosts predicate).
  std::function<bool(const Endpoint&)> avoid;
};

// The index of the endpoint to use; nullopt when there are none. When every
// endpoint is to be avoided the pick ignores `avoid` (Envoy's panic mode:
// better a suspect endpoint than none).
std::optional<std::size_t> pickEndpoint(const std::vector<Endpoint>& endpoints, const PickInput& in);

// A 64-bit FNV-1a hash (consistent-hash keys).
uint64_t hashKey(std::string_view s);

}  // namespace ambit::waypoint::upstream
