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

metrics::LabelValues tcpLabelValues(const ConnectionFacts& f) {
  const auto* s = f.source;
  const auto* d = f.destination;
  std::string svc_host = kUnknown;
  std::string svc_ns = kUnknown;
  std::string svc_name = kUnknown;
  if (f.service != nullptr) {
    svc_host = f.service->hostname();
    svc_ns = f.service->namespace_();
    svc_name = f.service->name();
  } else if (!f.destination_service_fallback.empty()) {
    svc_host = f.destination_service_fallback;
    svc_name = f.destination_service_fallback;
  }
  return {
      f.reporter == Reporter::kSource ? "source" : "destination",
      s ? orUnknown(s->workload_name()) : kUnknown,
      s ? orUnknown(s->canonical_name()) : kUnknown,
      s ? orUnknown(s->canonical_revision()) : kUnknown,
      s ? orUnknown(s->namespace_()) : kUnknown,
      principal(f.source_principal),
      s ? orUnknown(s->canonical_name()) : kUnknown,
      s ? orUnknown(s->canonical_revision()) : kUnknown,
      s ? orUnknown(s->cluster_id()) : kUnknown,
      svc_host,
      svc_ns,
      svc_name,
      d ? orUnknown(d->workload_name()) : kUnknown,
      d ? orUnknown(d->canonical_name()) : kUnknown,
      d ? orUnknown(d->canonical_revision()) : kUnknown,
      d ? orUnknown(d->namespace_()) : kUnknown,
      principal(f.destination_principal),
      d ? orUnknown(d->canonical_name()) : kUnknown,
      d ? orUnknown(d->canonical_revision()) : kUnknown,
      d ? orUnknown(d->cluster_id()) : kUnknown,
      "tcp",
      responseFlagName(f.flag),
      f.mutual_tls ? "mutual_tls" : "unknown",
  };
}

}  // namespace ambit::ztunnel::telemetry
