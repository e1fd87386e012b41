// Declares the waypoint's config fields.
#include "waypoint/config.h"

namespace ambit::waypoint {

WaypointConfig::WaypointConfig() {
  // Istio's waypoint (Envoy) ports: admin on localhost:15000, merged stats on
  // 15020, readiness on 15021.
  service.admin.port = 15000;
  service.admin.stats_port = 15020;
  service.admin.readiness_port = 15021;
}

config::Schema<WaypointConfig> waypointSchema() {
  using C = WaypointConfig;
  using ms = std::chrono::milliseconds;
  using Esc = http::NormalizeOptions::EscapedSlashes;
  config::Schema<C> s("waypoint");
  app::addServiceFields<C>(s, [](C& c) -> app::ServiceConfig& { return c.service; });
  xds::addControlPlaneFields<C>(
      s, [](C& c) -> xds::ControlPlaneConfig& { return c.control_plane; }, "the waypoint's",
      "the waypoint's certificate");
  s.field<std::string>(
       "gateway.name", "the Gateway (class istio-waypoint / ambit-waypoint) this waypoint serves",
       [](C& c) -> auto& { return c.proxy.name; }, config::nonEmpty())
      .field<std::string>(
          "gateway.namespace", "the Gateway's namespace", [](C& c) -> auto& { return c.proxy.ns; },
          config::nonEmpty())
      .field<std::string>(
          "identity.service_account", "service account of the waypoint's SPIFFE identity",
          [](C& c) -> auto& { return c.proxy.service_account; }, config::nonEmpty())
      .field<std::string>(
          "mesh.trust_domain", "SPIFFE trust domain of the waypoint and its peers",
          [](C& c) -> auto& { return c.proxy.trust_domain; }, config::nonEmpty())
      .field<std::string>(
          "network", "network of this waypoint ('' = default)",
          [](C& c) -> auto& { return c.proxy.network; })
      .field<std::string>(
          "listen.address", "address of the HBONE listener (the waypoint pod's IP)",
          [](C& c) -> auto& { return c.proxy.listen_address; }, config::nonEmpty())
      .field<uint16_t>(
          "ports.hbone", "HBONE port: the waypoint's listener and each endpoint's node proxy",
          [](C& c) -> auto& { return c.proxy.hbone_port; }, config::inRange<uint16_t>(1, 65535))
      .field<std::string>(
          "upstream.source_address", "local address of outgoing HBONE connections ('' = any)",
          [](C& c) -> auto& { return c.proxy.source_address; })
      .field<ms>(
          "timeouts.connect", "connect timeout to an endpoint's node proxy",
          [](C& c) -> auto& { return c.proxy.connect_timeout; }, config::positiveDuration())
      .field<ms>(
          "timeouts.handshake", "TLS handshake timeout",
          [](C& c) -> auto& { return c.proxy.handshake_timeout; }, config::positiveDuration())
      .field<ms>(
          "timeouts.request_header", "a request's head must arrive within this",
          [](C& c) -> auto& { return c.proxy.request_header_timeout; }, config::positiveDuration())
      .field<ms>(
          "timeouts.idle", "a keep-alive connection without a request closes after this; a request whose upstream stream moves no bytes either way this long ends (408, flag SI)",
          [](C& c) -> auto& { return c.proxy.idle_timeout; }, config::positiveDuration())
      .field<ms>(
          "timeouts.upstream_idle", "an idle keep-alive connection to an endpoint closes after this",
          [](C& c) -> auto& { return c.proxy.upstream_idle_timeout; }, config::positiveDuration())
      .field<ms>(
          "timeouts.tcp_idle",
          "a connection passed through as TCP closes after this long without bytes either way "
          "(a DestinationRule's connectionPool.tcp.idleTimeout overrides it)",
          [](C& c) -> auto& { return c.proxy.tcp_idle_timeout; }, config::positiveDuration())
      .field<ms>(
          "timeouts.pending",
          "longest a request waits for a connection when a DestinationRule's maxConnections is reached "
          "(the route timeout, when shorter, ends it first)",
          [](C& c) -> auto& { return c.proxy.pending_timeout; }, config::positiveDuration())
      .field<uint64_t>(
          "limits.max_header_bytes", "largest request head (431 beyond)",
          [](C& c) -> auto& { return c.proxy.limits.max_header_bytes; },
          config::inRange<uint64_t>(1024, 1u << 20))
      .field<uint64_t>(
          "limits.max_headers", "most request header fields (431 beyond)",
          [](C& c) -> auto& { return c.proxy.limits.max_headers; }, config::inRange<uint64_t>(1, 1000))
      .field<uint64_t>(
          "limits.max_body_bytes", "request body bytes kept for a retry or mirror; bodies stream past it (then the request is not retried)",
          [](C& c) -> auto& { return c.proxy.limits.max_body_bytes; },
          config::inRange<uint64_t>(0, 64u << 20))
      .field<uint64_t>(
          "limits.max_idle_upstream", "idle keep-alive streams kept per endpoint and worker",
          [](C& c) -> auto& { return c.proxy.max_idle_upstream; }, config::inRange<uint64_t>(0, 10000))
      .field<uint64_t>(
          "limits.max_mirrors", "mirrored requests in flight per worker (more are not mirrored)",
          [](C& c) -> auto& { return c.proxy.max_mirrors; }, config::inRange<uint64_t>(0, 100000))
      .enumField<Esc>(
          "path.escaped_slashes",
          "what %2F and %5C in a path become before routing and policy: decode (default), keep, reject",
          [](C& c) -> auto& { return c.proxy.normalize.escaped_slashes; },
          {{"decode", Esc::kDecode}, {"keep", Esc::kKeep}, {"reject", Esc::kReject}})
      .field<bool>(
          "path.merge_slashes", "merge repeated slashes in a path before routing and policy",
          [](C& c) -> auto& { return c.proxy.normalize.merge_slashes; })
      .field<bool>(
          "access_log", "an access-log line per request", [](C& c) -> auto& { return c.proxy.access_log; })
      .field<std::string>(
          "tracing.zipkin_address",
          "host:port of a Zipkin-compatible collector (POST /api/v2/spans); '' = no spans",
          [](C& c) -> auto& { return c.proxy.tracing.zipkin_address; },
          [](const std::string& v) -> std::optional<std::string> {
            if (v.empty()) return std::nullopt;
            auto colon = v.rfind(':');
            if (colon == std::string::npos || colon == 0 || colon + 1 == v.size() ||
                v.find_first_not_of("0123456789", colon + 1) != std::string::npos)
              return "must be host:port (e.g. zipkin.istio-system:9411)";
            return std::nullopt;
          })
      .field<double>(
          "tracing.sampling", "percent of requests traced when the caller did not decide (0-100)",
          [](C& c) -> auto& { return c.proxy.tracing.sampling; }, config::inRange<double>(0, 100))
      .field<ms>(
          "tracing.flush_interval", "spans are sent to the collector in batches this often",
          [](C& c) -> auto& { return c.proxy.tracing.flush_interval; }, config::positiveDuration())
      .field<ms>(
          "hbone.idle_timeout", "pooled HBONE connections without streams close after this",
          [](C& c) -> auto& { return c.proxy.pool.idle_timeout; }, config::positiveDuration())
      .field<ms>(
          "hbone.ping_interval", "HBONE keepalive PING interval",
          [](C& c) -> auto& { return c.proxy.server_limits.ping_interval; }, config::positiveDuration())
      .validate([](const C& c) { return xds::controlPlaneIssues(c.control_plane); });
  return s;
}

}  // namespace ambit::waypoint
