#include "ztunnel/telemetry/labels.h"

namespace ambit::ztunnel::telemetry {

namespace {

const std::string kUnknown = "unknown";

std::string orUnknown(const std::string& v) { return v.empty() ? kUnknown : v; }

// "spiffe://..." as Istio's source_principal / destination_principal.
std::string principal(const std::optional<tls::Identity>& id) { return id ? id->toString() : kUnknown; }

}  // namespace

const char* responseFlagName(ResponseFlag f) {
  switch (f) {
    case ResponseFlag::kNone:
      return "-";
    case ResponseFlag::kDeny:
      return "DENY";
    case ResponseFlag::kConnect:
      return "CONNECT";
  }
  return "-";
}

// One side's workload labels (source or destination), "unknown" when not known.
struct WorkloadLabels {
  std::string workload = kUnknown, canonical_service = kUnknown, canonical_revision = kUnknown, ns = kUnknown,
              cluster = kUnknown;
  explicit WorkloadLabels(const istio::workload::Workload* w) {
    if (w == nullptr) return;
    workload = orUnknown(w->workload_name());
    canonical_service = orUnknown(w->canonical_name());
    canonical_revision = orUnknown(w->canonical_revision());
    ns = orUnknown(w->namespace_());
    cluster = orUnknown(w->cluster_id());
  }
};

metrics::LabelValues tcpLabelValues(const ConnectionFacts& f) {
  WorkloadLabels s(f.source);
  WorkloadLabels d(f.destination);
  std::string svc_host = kUnknown;
  std::string svc_ns = kUnknown;
  std::string svc_name = kUnknown;
  if (f.service != nullptr) {
    svc_host = f.service->hostname();
    svc_ns = f.service->namespace_();
    svc_name = f.service->name();
  } else if (!f.destination_service_fallback.empty()) {
    svc_host = svc_name = f.destination_service_fallback;
  }
  // *_app and *_version are the canonical service and revision, as ztunnel reports them.
  return {
      f.reporter == Reporter::kSource ? "source" : "destination",
      s.workload, s.canonical_service, s.canonical_revision, s.ns, principal(f.source_principal),
      s.canonical_service, s.canonical_revision, s.cluster,
      svc_host, svc_ns, svc_name,
      d.workload, d.canonical_service, d.canonical_revision, d.ns, principal(f.destination_principal),
      d.canonical_service, d.canonical_revision, d.cluster,
      "tcp", responseFlagName(f.flag), f.mutual_tls ? "mutual_tls" : "unknown",
  };
}

}  // namespace ambit::ztunnel::telemetry
