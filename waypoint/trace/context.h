// Distributed tracing (pure; table-tested): the trace context a request
// brings (W3C traceparent, B3 single `b3`, or B3 multi `x-b3-*`), the
// sampling decision, the context the next hop gets (the waypoint's span as
// its parent, in both W3C and B3 form), and Zipkin v2 JSON for finished spans.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "waypoint/route/match.h"

namespace ambit::waypoint::trace {

struct TraceContext {
  std::string trace_id;         // 32 lower-case hex; "" when the request brought none (or a malformed one)
  std::string parent_span_id;   // 16 hex: the caller's span; "" when none
  std::optional<bool> sampled;  // the caller's decision, when it made one
};

// traceparent first, then b3, then x-b3-*; a malformed header is ignored
// (as if absent). A 64-bit B3 trace id is widened to 128 bits with zeros.
TraceContext extract(const std::vector<route::Header>& headers);

// The caller's decision when there is one, else a draw (`unit` in [0, 1))
// against `percent`.
bool sample(const TraceContext& in, double percent, double unit);

// Sets traceparent and x-b3-traceid / -spanid / -parentspanid / -sampled for
// the next hop, whose parent is `span_id`; replaces any the request had and
// drops a `b3` single header (the multi form carries the same).
void inject(std::vector<route::Header>& headers, const std::string& trace_id, const std::string& span_id,
            const std::string& parent_span_id, bool sampled);

// `bytes` random bytes as lower-case hex (never all zeros, which W3C and B3 reject).
std::string randomHex(std::size_t bytes, uint64_t (*next)());

struct Span {
  std::string trace_id, id, parent_id;  // parent_id "" for a root span
  std::string name;
  std::string kind = "SERVER";
  uint64_t timestamp_us = 0;  // since the Unix epoch
  uint64_t duration_us = 0;
  std::string service;  // localEndpoint.serviceName
  std::vector<std::pair<std::string, std::string>> tags;
};

// A Zipkin v2 JSON array (POST /api/v2/spans).
std::string zipkinJson(const std::vector<Span>& spans);

}  // namespace ambit::waypoint::trace
