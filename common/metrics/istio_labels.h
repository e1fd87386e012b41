// Istio's standard metric names, label sets and buckets, so Ambit's metrics work
// with existing Istio dashboards and Kiali. Proxies declare their families from
// these lists; the order here is the order of label values at get().
#pragma once

#include <string>
#include <vector>

namespace ambit::metrics::istio {

inline constexpr const char* kTcpConnectionsOpened = "istio_tcp_connections_opened_total";
inline constexpr const char* kTcpConnectionsClosed = "istio_tcp_connections_closed_total";
inline constexpr const char* kTcpSentBytes = "istio_tcp_sent_bytes_total";
inline constexpr const char* kTcpReceivedBytes = "istio_tcp_received_bytes_total";
inline constexpr const char* kRequestsTotal = "istio_requests_total";
inline constexpr const char* kRequestDuration = "istio_request_duration_milliseconds";
inline constexpr const char* kRequestBytes = "istio_request_bytes";
inline constexpr const char* kResponseBytes = "istio_response_bytes";

// Labels of Istio's TCP metrics as ztunnel reports them.
inline const std::vector<std::string>& tcpLabels() {
  static const std::vector<std::string> kLabels = {
      "reporter",
      "source_workload",
      "source_canonical_service",
      "source_canonical_revision",
      "source_workload_namespace",
      "source_principal",
      "source_app",
      "source_version",
      "source_cluster",
      "destination_service",
      "destination_service_namespace",
      "destination_service_name",
      "destination_workload",
      "destination_canonical_service",
      "destination_canonical_revision",
      "destination_workload_namespace",
      "destination_principal",
      "destination_app",
      "destination_version",
      "destination_cluster",
      "request_protocol",
      "response_flags",
      "connection_security_policy",
  };
  return kLabels;
}

// Labels of Istio's HTTP request metrics (the TCP set plus the response code).
inline const std::vector<std::string>& requestLabels() {
  static const std::vector<std::string> kLabels = [] {
    auto l = tcpLabels();
    l.push_back("response_code");
    l.push_back("grpc_response_status");
    return l;
  }();
  return kLabels;
}

// Istio's default buckets for istio_request_duration_milliseconds.
inline const std::vector<double>& durationBucketsMs() {
  static const std::vector<double> kBuckets = {0.5,  1,    5,     10,    25,     50,     100,
                                               250,  500,  1000,  2500,  5000,   10000,  30000,
                                               60000, 300000, 600000, 1800000, 3600000};
  return kBuckets;
}

// Istio's default buckets for request/response sizes (bytes).
inline const std::vector<double>& sizeBuckets() {
  static const std::vector<double> kBuckets = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};
  return kBuckets;
}

}  // namespace ambit::metrics::istio
