// The waypoint's typed configuration (file + AMBIT_* environment + flags).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/app/service.h"
#include "common/config/schema.h"
#include "common/xds/control_plane_config.h"
#include "common/hbone/connection.h"
#include "common/hbone/pool.h"
#include "waypoint/http/h1_request.h"
#include "waypoint/http/normalize.h"

namespace ambit::waypoint {

// Spans to a Zipkin-compatible collector (Istio's zipkin extension provider).
struct TracingConfig {
  std::string zipkin_address;  // host:port; "" = no spans (trace headers still pass through)
  double sampling = 1.0;       // percent of requests without a caller's decision (Istio's default: 1)
  std::chrono::milliseconds flush_interval{std::chrono::seconds(1)};
};

struct ProxyConfig {
  std::string name;             // the Gateway this waypoint is ("waypoint")
  std::string ns;               // its namespace
  std::string service_account;  // its identity: spiffe://<trust_domain>/ns/<ns>/sa/<service_account>
  std::string trust_domain = "cluster.local";
  std::string network;                     // "" = default
  std::string listen_address = "0.0.0.0";  // the HBONE listener (the waypoint pod's address)
  uint16_t hbone_port = 15008;             // ours, and each endpoint's ztunnel's
  std::string source_address;              // outgoing HBONE from this address ("" = the kernel's choice)
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(5)};
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds certificate_wait{std::chrono::seconds(5)};
  std::chrono::milliseconds request_header_timeout{
      std::chrono::seconds(30)};                                    // a request's head must arrive within
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};  // keep-alive connection without a request
  std::chrono::milliseconds upstream_idle_timeout{
      std::chrono::seconds(60)};       // pooled upstream HTTP/1.1 streams
  std::size_t max_idle_upstream = 64;  // idle keep-alive upstream streams kept per endpoint (per worker)
  // A request waiting for a connection (DestinationRule maxConnections reached) gives up after this (503 UO).
  std::chrono::milliseconds pending_timeout{std::chrono::seconds(30)};
  // A connection passed through as TCP with no bytes either way for this long is closed (Istio's default).
  std::chrono::milliseconds tcp_idle_timeout{std::chrono::hours(1)};
  std::size_t max_mirrors = 256;  // mirrored requests in flight per worker; more are dropped
  http::H1Limits limits;
  http::NormalizeOptions normalize;
  hbone::H2Limits server_limits;
  hbone::PoolOptions pool;
  bool access_log = true;
  TracingConfig tracing;
};

struct WaypointConfig {
  app::ServiceConfig service;
  ProxyConfig proxy;
  xds::ControlPlaneConfig control_plane;
  WaypointConfig();
};

config::Schema<WaypointConfig> waypointSchema();

}  // namespace ambit::waypoint
