// The per-request decisions of a route (pure; random draws are passed in as
// `unit` in [0, 1) so every decision is table-testable): which weighted
// destination, whether an attempt is retried and after how long, whether a
// fault is injected, what header operations and rewrites do.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ambit/route/v1/route.pb.h"
#include "istio/workload/workload.pb.h"
#include "waypoint/route/match.h"

namespace ambit::waypoint::route {

// Index of the destination a draw falls on, each weighted; nullopt when every
// weight is 0 (or there are none).
std::optional<std::size_t> pickWeighted(const std::vector<uint32_t>& weights, double unit);

// A connection's destination by the host's TCP routes (VirtualService tcp:):
// the first route for `port` (or any port) picks by weight; null when no
// route is for this port or its weights are all 0.
const ambit::route::v1::Destination* tcpDestination(const ambit::route::v1::HostConfig& host, uint16_t port,
                                                     double unit);

// How one upstream attempt ended.
struct AttemptOutcome {
  // kStreamIdle: nothing moved on the stream for the idle timeout (Envoy's
  // stream idle timeout): it ends the request, never retried.
  enum class Failure { kNone, kConnectFailure, kReset, kRefusedStream, kPerTryTimeout, kStreamIdle };
  int status = 0;          // the response status; 0 when none came
  Failure failure = Failure::kNone;
  int grpc_status = -1;    // grpc-status of the response, -1 when absent
};

// Envoy's retry-on semantics for the conditions Istio passes through: 5xx,
// gateway-error, reset, connect-failure, retriable-4xx, refused-stream,
// retriable-status-codes, and the gRPC ones (cancelled, deadline-exceeded,
// internal, resource-exhausted, unavailable).
bool retriable(const rv1::Retry& retry, const AttemptOutcome& outcome);

// Delay before retry `attempt` (1 = the first retry): uniform in
// [0, min(max, base * 2^(attempt-1))] ("full jitter"); base 25 ms and max
// 250 ms when unset (Envoy's defaults).
std::chrono::milliseconds retryBackoff(const rv1::Retry& retry, unsigned attempt, double unit);

struct FaultDecision {
  std::chrono::milliseconds delay{0};
  int abort_status = 0;  // 0 = none
};
FaultDecision decideFault(const rv1::Fault& fault, double delay_unit, double abort_unit);

// Envoy's order: remove, then set (replaces every value), then add (appends).
// Names compare case-insensitively; `headers` names are lower-case.
void applyHeaderOps(const rv1::HeaderOps& ops, std::vector<Header>& headers);

// The path after a route's rewrite: full_path replaces it; path_prefix
// replaces the prefix `matched` (the route's path match that held, if it is a
// prefix) matched. Query strings are not touched.
std::string rewritePath(const rv1::Rewrite& rewrite, const rv1::RouteMatch* matched, std::string_view path);

// The Location of a redirect, from what the request had.
std::string redirectLocation(const rv1::Redirect& redirect, const rv1::RouteMatch* matched, std::string_view scheme,
                             std::string_view authority, std::string_view path, std::string_view query);

// Whether a request goes upstream as HTTP/2 (else HTTP/1.1), as Istio sets
// its clusters: as the client spoke with useClientProtocol (it overrides the
// rest); HTTP/2 for a port declared http2 or grpc; as the client spoke on an
// undeclared port (never upgraded); HTTP/2 for an HTTP/1.1 port with
// h2UpgradePolicy UPGRADE; else HTTP/1.1.
bool upstreamHttp2(istio::workload::AppProtocol port, const rv1::TrafficPolicy& policy, bool client_http2);

// A gRPC request: content-type application/grpc, or application/grpc+<codec>
// or ;<params> (not grpc-web).
bool isGrpc(std::string_view content_type);

// The gRPC status of a local reply with this HTTP status (the gRPC spec's
// HTTP-to-gRPC table, as Envoy maps its local replies to gRPC callers).
int grpcStatusForHttp(int status);

// A grpc-status value (0-999), or -1 when absent or malformed.
int grpcStatusValue(std::string_view value);

// grpc-message's percent-encoding (bytes outside 0x20-0x7e, and '%').
std::string grpcMessage(std::string_view text);

}  // namespace ambit::waypoint::route
