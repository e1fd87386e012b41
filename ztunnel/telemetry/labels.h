// The label values of Istio's TCP metrics for one connection, as ztunnel
// reports them (pure; table-tested). Order: metrics::istio::tcpLabels().
#pragma once

#include <optional>
#include <string>

#include "common/metrics/registry.h"
#include "common/tls/spiffe_id.h"
#include "istio/workload/workload.pb.h"

namespace ambit::ztunnel::telemetry {

enum class Reporter { kSource, kDestination };
// Istio ztunnel's response flags: "-" (none), "DENY" (policy), "CONNECT" (upstream failed).
enum class ResponseFlag { kNone, kDeny, kConnect };

struct ConnectionFacts {
  Reporter reporter = Reporter::kSource;
  const istio::workload::Workload* source = nullptr;       // null when unknown (plaintext from outside the mesh)
  std::optional<tls::Identity> source_principal;
  const istio::workload::Workload* destination = nullptr;  // null for passthrough to outside the mesh
  std::optional<tls::Identity> destination_principal;
  const istio::workload::Service* service = nullptr;       // the service dialled, if any
  std::string destination_service_fallback;                // e.g. the ip:port dialled, when no service
  bool mutual_tls = false;
  ResponseFlag flag = ResponseFlag::kNone;
};

metrics::LabelValues tcpLabelValues(const ConnectionFacts& f);

const char* responseFlagName(ResponseFlag f);

}  // namespace ambit::ztunnel::telemetry
