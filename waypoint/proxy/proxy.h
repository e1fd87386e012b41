// The waypoint's data plane. It listens for HBONE on its pod address:15008
// with its own SPIFFE identity; each CONNECT names the service VIP:port the
// client dialled (ztunnel sent it here because the service uses this
// waypoint). The tunnel carries HTTP/1.1 or HTTP/2 (prior knowledge: the
// client's first bytes are the HTTP/2 preface); each request is normalized,
// authorized (L7 AuthorizationPolicy), routed (HostConfig from ambitd:
// VirtualService / HTTPRoute / DestinationRule), then sent over HBONE to the
// chosen endpoint's node proxy with the waypoint's identity, with retries,
// timeouts, faults and mirrors as the route says; the response streams back.
//
// Threads: a downstream HBONE connection, its requests and their upstream
// attempts all run on the worker that accepted it; per-worker HBONE pools and
// idle keep-alive streams need no locks. Outlier detection and the request
// counters per host are shared (a mutex, a few atomics).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <nlohmann/json.hpp>

#include "common/app/service.h"
#include "common/hbone/connection.h"
#include "common/hbone/pool.h"
#include "common/runtime/listener.h"
#include "common/tls/spiffe_id.h"
#include "waypoint/config.h"
#include "waypoint/http/h1_request.h"
#include "waypoint/http/h1_response.h"
#include "waypoint/http/h2_client.h"
#include "waypoint/http/request_body.h"
#include "waypoint/route/decide.h"
#include "waypoint/state/route_store.h"
#include "waypoint/trace/zipkin.h"
#include "waypoint/upstream/endpoints.h"
#include "waypoint/upstream/limits.h"
#include "waypoint/upstream/outlier.h"
#include "ztunnel/identity/manager.h"
#include "ztunnel/xds/state_store.h"

namespace ambit::waypoint {

namespace asio = boost::asio;
using asio::ip::tcp;

// Envoy's response flags, as Istio's metrics and access logs show them.
enum class Flag {
  kNone,
  kNoRoute,
  kFaultAbort,
  kFaultDelay,
  kRbac,
  kUpstreamConnect,
  kUpstreamReset,
  kUpstreamTimeout,
  kNoHealthy,
  kOverflow,
  kBadRequest,
  kDownstreamReset,
  kStreamIdleTimeout
};
const char* flagName(Flag f);

struct RequestMetrics {
  explicit RequestMetrics(metrics::Registry& r);
  metrics::CounterFamily& requests;
  metrics::HistogramFamily& duration;
  metrics::HistogramFamily& request_bytes;
  metrics::HistogramFamily& response_bytes;
};

// Istio's TCP metrics for connections passed through (reporter="waypoint").
struct TunnelMetrics {
  explicit TunnelMetrics(metrics::Registry& r);
  metrics::CounterFamily& opened;
  metrics::CounterFamily& closed;
  metrics::CounterFamily& sent;      // to the client
  metrics::CounterFamily& received;  // from the client
};

class Responder;

class Waypoint {
 public:
  Waypoint(ProxyConfig config, app::Service& service, ztunnel::StateStore& state, RouteStore& routes,
           ztunnel::identity::Manager& identities);
  ~Waypoint();

  const tls::Identity& identity() const { return identity_; }
  // Whether every xDS type has its first config: until then tunnels are
  // refused (503), so no request is served before its L7 policies are known.
  void setConfigured(std::function<bool()> fn) { configured_ = std::move(fn); }
  // TLS contexts, per-worker pools, the HBONE listener.
  Status start();
  void drainPools();
  // After the workers stopped (see ztunnel's Proxy::stop()).
  void stop();
  tcp::endpoint endpoint() const;
  nlohmann::json dump() const;

  // One downstream request's facts, shared by its handling steps.
  struct Downstream;
  struct Upstream;
  struct Outbound;
  struct BodyPump;
  // A traced request: its ids and when it started.
  struct RequestTrace {
    bool sampled = false;
    std::string trace_id, span_id, parent_id;
    uint64_t start_us = 0;
  };
  // What a finished request's span says.
  struct SpanFacts {
    const http::Request* request = nullptr;
    const std::string* authority = nullptr;
    int status = 0;
    Flag flag = Flag::kNone;
    const std::string* route = nullptr;
    const upstream::Endpoint* upstream = nullptr;
    uint64_t request_bytes = 0, response_bytes = 0;
    const std::string* request_id = nullptr;
  };

 private:
  // An upstream HBONE stream, kept between requests to one endpoint.
  struct IdleStream {
    std::shared_ptr<hbone::Stream> stream;
    std::shared_ptr<http::H2Client> h2;  // its HTTP/2 session (HTTP/2 upstreams)
    std::chrono::steady_clock::time_point since;
    unsigned uses = 0;  // requests it has carried
  };
  // Where a destination goes, resolved once per snapshot pair (WDS, routes)
  // and worker: the Service and its HBONE endpoints for a port and subset,
  // and that destination's connection-pool limits and circuit breakers.
  struct Targets {
    ztunnel::ServicePtr service;  // null: the host names no service
    std::vector<upstream::Endpoint> endpoints;
    upstream::PoolLimits limits;
    std::shared_ptr<upstream::Cluster> cluster;  // null when the limits need no counting
    istio::workload::AppProtocol protocol = istio::workload::UNKNOWN;  // the service port's, as declared
  };
  struct Worker {
    std::unique_ptr<hbone::ClientPool> pool;
    std::shared_ptr<const ztunnel::ProxyState> targets_state;  // what `targets` were resolved against
    std::shared_ptr<const RouteTable> targets_routes;
    std::unordered_map<std::string, std::shared_ptr<const Targets>> targets;  // by host, port, subset
    std::map<std::string, std::vector<IdleStream>> idle;  // by "endpoint ip:port" (+ " h2")
    uint64_t round_robin = 0;
    std::size_t mirrors = 0;  // mirrored requests in flight
    std::unordered_map<std::string, uint32_t> active;  // requests in flight per endpoint uid (least request)
    // Istio request metric series, found without building their labels: keyed
    // by the objects the labels come from (kept alive by the entry, so an
    // address is never reused under it), the peer, the status and the flag.
    struct SeriesKey {
      const void* source;
      const void* destination;
      const void* service;
      uint64_t peer_hash;
      int status;
      Flag flag;
      int grpc;
      bool operator==(const SeriesKey&) const = default;
    };
    struct SeriesKeyHash {
      std::size_t operator()(const SeriesKey& k) const;
    };
    struct Series {
      ztunnel::WorkloadPtr source, destination;
      ztunnel::ServicePtr service;
      std::string peer;
      std::shared_ptr<metrics::Counter> requests;
      std::shared_ptr<metrics::Histogram> duration, request_bytes, response_bytes;
    };
    std::unordered_map<SeriesKey, Series, SeriesKeyHash> request_series;
  };

  asio::awaitable<void> serveHbone(tcp::socket& socket, runtime::ConnectionContext& ctx);
  asio::awaitable<void> handleConnect(std::shared_ptr<hbone::Stream> stream, std::size_t worker,
                                      std::optional<tls::Identity> peer, tcp::endpoint peer_ep);
  // session.cc: the HTTP/1.1 request loop of one tunnel, and one request
  // (either protocol); `in`: bytes already read from the tunnel.
  asio::awaitable<void> serveHttp1(std::shared_ptr<hbone::Stream> stream, Downstream& d, std::string in);
  // `body`: the request's body, whole or still arriving (req.body is not used).
  asio::awaitable<bool> handleRequest(Responder& resp, Downstream& d, http::Request req,
                                      std::shared_ptr<http::RequestBody> body);
  // A request refused before routing (limits, framing): its metrics and access line.
  void refused(Downstream& d, int status, const std::string& reason, std::chrono::steady_clock::time_point started,
               uint64_t response_bytes);
  // session_h2.cc: a tunnel carrying HTTP/2 (the client sent the preface).
  asio::awaitable<void> serveHttp2(std::shared_ptr<hbone::Stream> stream, Downstream& d, std::string in);
  // tcp.cc: a connection passed through as TCP (a port declared tcp/tls, or
  // sniffed as not HTTP): L4 policy, an endpoint, the bytes both ways.
  // `first`: bytes already read; `answered`: the CONNECT already has its 200
  // (a refusal then resets the tunnel; else it is answered 403/503).
  asio::awaitable<void> serveTcp(std::shared_ptr<hbone::Stream> stream, Downstream& d, std::string first,
                                 bool answered);
  // upstream.cc: one attempt at an endpoint, and the relay of its response.
  // `limits`: the destination's connection pool settings (idle and connect timeouts, requests per connection).
  asio::awaitable<std::unique_ptr<Upstream>> attempt(Downstream& d, const upstream::Endpoint& ep,
                                                     const upstream::PoolLimits& limits, const Outbound& req,
                                                     std::chrono::steady_clock::time_point deadline,
                                                     route::AttemptOutcome& outcome, std::string& detail);
  // An idle stream to the endpoint (an HTTP/2 one with its session when
  // `http2`), else a new tunnel; `fresh`: always a new one (TCP passthrough).
  // Its `uses`: how many requests it carried before (0: a new one); a null
  // stream when it could not be had (`error` says why).
  asio::awaitable<IdleStream> openStream(Worker& w, const upstream::Endpoint& ep, const upstream::PoolLimits& limits,
                                         std::chrono::milliseconds timeout, std::string& error, bool http2,
                                         bool fresh = false);
  std::shared_ptr<const Targets> targetsFor(Worker& w, const Downstream& d,
                                            const ambit::route::v1::Destination& dest, const std::string& ns_hint,
                                            uint16_t port);
  // The load balancer's input for a pick on this worker (its round-robin
  // counter, requests in flight, fresh draws); the caller adds the hash and
  // which endpoints to avoid.
  upstream::PickInput pickInput(Worker& w, const ambit::route::v1::TrafficPolicy& tp);
  // Kept for the next request, or closed (full pool; maxRequestsPerConnection reached).
  void releaseStream(Worker& w, Upstream& up, const upstream::PoolLimits& limits);
  // A copy of `req` to `dest`, its response dropped. `client_http2`: how the
  // client spoke (the copy's protocol is decided for its own destination).
  void mirror(Downstream& d, const ambit::route::v1::Destination& dest, const Outbound& req, bool client_http2);
  // The request `req` describes, for a destination's protocol (HTTP/2 or the HTTP/1.1 bytes).
  static void prepare(Outbound& req, bool http2);
  // tracing.cc: a request's trace (nullopt without a collector), and its span when it ends.
  std::optional<RequestTrace> startTrace(const http::Request& req);
  void endTrace(const RequestTrace& t, const Downstream& d, const SpanFacts& f);
  // `grpc`: -2 for an HTTP request, else a gRPC one's grpc-status (-1: none came).
  void countRequest(Worker& w, Downstream& d, const upstream::Endpoint* ep, int status, Flag flag,
                    std::chrono::steady_clock::time_point started, uint64_t request_bytes,
                    uint64_t response_bytes, int grpc = kNotGrpc);
  static constexpr int kNotGrpc = -2;

  ProxyConfig config_;
  app::Service& service_;
  ztunnel::StateStore& state_;
  RouteStore& routes_;
  ztunnel::identity::Manager& identities_;
  tls::Identity identity_;
  RequestMetrics metrics_;
  TunnelMetrics tcp_metrics_;
  std::shared_ptr<asio::ssl::context> server_ctx_;
  std::shared_ptr<asio::ssl::context> client_ctx_;
  std::unique_ptr<runtime::Listener> listener_;
  std::vector<std::unique_ptr<Worker>> workers_;  // one per worker thread, used there only
  upstream::OutlierTracker outliers_;
  upstream::CircuitBreakers breakers_;
  std::unique_ptr<trace::ZipkinExporter> tracer_;  // null: no collector configured
  std::function<bool()> configured_;
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> downstream_streams_{0};
  std::atomic<uint64_t> tcp_connections_{0};  // passed through
};

}  // namespace ambit::waypoint
