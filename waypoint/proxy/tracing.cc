// A request's trace: the context it brought (or a new trace), the sampling
// decision, and the span the waypoint reports when the request ends, with
// Envoy's and Istio's tag names so a Zipkin or Jaeger UI reads it as it
// reads Istio's spans.
#include <random>

#include "waypoint/proxy/internal.h"
#include "waypoint/trace/context.h"

namespace ambit::waypoint {

namespace {

uint64_t random64() {
  static thread_local std::mt19937_64 rng = [] {
    std::random_device rd;  // several draws: ids from one 32-bit seed would repeat across workers and restarts
    std::seed_seq seed{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seed);
  }();
  return rng();
}

// Envoy's max_path_tag_length: a span stays small whatever the request's target.
constexpr std::size_t kMaxUrlTag = 256;

uint64_t nowMicros() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

}  // namespace

std::optional<Waypoint::RequestTrace> Waypoint::startTrace(const http::Request& req) {
  if (!tracer_) return std::nullopt;
  auto in = trace::extract(req.headers);
  RequestTrace t;
  t.sampled = trace::sample(in, config_.tracing.sampling, draw());
  t.trace_id = in.trace_id.empty() ? trace::randomHex(16, random64) : in.trace_id;
  t.span_id = trace::randomHex(8, random64);
  t.parent_id = in.parent_span_id;
  t.start_us = nowMicros();
  return t;
}

void Waypoint::endTrace(const RequestTrace& t, const Downstream& d, const SpanFacts& f) {
  if (!t.sampled || !tracer_) return;
  trace::Span s;
  s.trace_id = t.trace_id;
  s.id = t.span_id;
  s.parent_id = t.parent_id;
  // Istio names a span by the service and port it was for.
  s.name = fmt::format("{}:{}/*", d.service->hostname(), d.port);
  s.timestamp_us = t.start_us;
  auto now = nowMicros();
  s.duration_us = now > t.start_us ? now - t.start_us : 0;
  s.service = config_.name + "." + config_.ns;
  const auto& req = *f.request;
  s.tags = {{"component", "proxy"},
            {"http.method", req.method.substr(0, 32)},
            {"http.url", ("http://" + *f.authority + req.target).substr(0, kMaxUrlTag)},
            {"http.protocol", req.version == 20 ? "HTTP/2" : req.version == 10 ? "HTTP/1.0" : "HTTP/1.1"},
            {"http.status_code", std::to_string(f.status)},
            {"response_flags", flagName(f.flag)},
            {"request_size", std::to_string(f.request_bytes)},
            {"response_size", std::to_string(f.response_bytes)},
            {"peer.address", d.source_ip},
            {"downstream_principal", d.peer_text},
            {"istio.canonical_service", config_.name},
            {"istio.namespace", config_.ns},
            {"node_id", "waypoint~" + config_.ns + "/" + config_.name}};
  if (!f.route->empty()) s.tags.emplace_back("route_name", *f.route);
  if (f.upstream != nullptr) {
    s.tags.emplace_back("upstream_workload", f.upstream->workload->namespace_() + "/" + f.upstream->workload->name());
  }
  if (!f.request_id->empty()) s.tags.emplace_back("guid:x-request-id", *f.request_id);
  if (f.status >= 500 || f.status == 0) s.tags.emplace_back("error", "true");
  tracer_->submit(std::move(s));
}

}  // namespace ambit::waypoint
