#include "waypoint/trace/context.h"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/base/ascii.h"

namespace ambit::waypoint::trace {

namespace {

std::string_view headerValue(const std::vector<route::Header>& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (h.name == name) return h.value;
  }
  return {};
}

bool isHex(std::string_view s, std::size_t len) {
  return s.size() == len && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

bool allZero(std::string_view s) { return s.find_first_not_of('0') == std::string_view::npos; }

// A trace id of 16 or 32 hex digits, as 32 lower-case ones; "" when malformed.
std::string traceId(std::string_view s) {
  if (!(isHex(s, 32) || isHex(s, 16)) || allZero(s)) return "";
  std::string out = s.size() == 16 ? std::string(16, '0') : std::string();
  out += asciiLowered(s);
  return out;
}

std::string spanId(std::string_view s) {
  if (!isHex(s, 16) || allZero(s)) return "";
  return asciiLowered(s);
}

std::optional<bool> b3Sampled(std::string_view s) {
  if (s == "1" || s == "true" || s == "d") return true;  // "d": debug, sampled
  if (s == "0" || s == "false") return false;
  return std::nullopt;
}

// 00-<trace 32>-<span 16>-<flags 2>; later versions may append fields.
std::optional<TraceContext> fromTraceparent(std::string_view v) {
  if (v.size() < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;
  auto version = v.substr(0, 2);
  if (!isHex(version, 2) || version == "ff" || (version == "00" && v.size() != 55)) return std::nullopt;
  if (v.size() > 55 && v[55] != '-') return std::nullopt;
  TraceContext c;
  c.trace_id = traceId(v.substr(3, 32));
  c.parent_span_id = spanId(v.substr(36, 16));
  auto flags = v.substr(53, 2);
  if (c.trace_id.empty() || c.parent_span_id.empty() || !isHex(flags, 2)) return std::nullopt;
  c.sampled = (std::stoi(std::string(flags), nullptr, 16) & 1) != 0;
  return c;
}

// {trace}-{span}[-{sampled}[-{parent}]] or just {sampled}.
std::optional<TraceContext> fromB3Single(std::string_view v) {
  TraceContext c;
  if (v.size() == 1) {
    c.sampled = b3Sampled(v);
    return c.sampled ? std::optional(c) : std::nullopt;
  }
  std::vector<std::string_view> parts;
  for (std::size_t start = 0; start <= v.size() && parts.size() < 5;) {
    auto dash = v.find('-', start);
    parts.push_back(v.substr(start, dash == std::string_view::npos ? std::string_view::npos : dash - start));
    if (dash == std::string_view::npos) break;
    start = dash + 1;
  }
  if (parts.size() < 2 || parts.size() > 4) return std::nullopt;
  c.trace_id = traceId(parts[0]);
  c.parent_span_id = spanId(parts[1]);
  if (c.trace_id.empty() || c.parent_span_id.empty()) return std::nullopt;
  if (parts.size() >= 3) {
    c.sampled = b3Sampled(parts[2]);
    if (!c.sampled) return std::nullopt;
  }
  return c;
}

std::optional<TraceContext> fromB3Multi(const std::vector<route::Header>& headers) {
  TraceContext c;
  auto trace = headerValue(headers, "x-b3-traceid");
  auto span = headerValue(headers, "x-b3-spanid");
  if (!trace.empty() || !span.empty()) {
    c.trace_id = traceId(trace);
    c.parent_span_id = spanId(span);
    if (c.trace_id.empty() || c.parent_span_id.empty()) return std::nullopt;
  }
  if (headerValue(headers, "x-b3-flags") == "1") {
    c.sampled = true;  // debug
  } else if (auto s = headerValue(headers, "x-b3-sampled"); !s.empty()) {
    c.sampled = b3Sampled(s);
  }
  if (c.trace_id.empty() && !c.sampled) return std::nullopt;
  return c;
}

}  // namespace

TraceContext extract(const std::vector<route::Header>& headers) {
  if (auto v = headerValue(headers, "traceparent"); !v.empty()) {
    if (auto c = fromTraceparent(v)) return *c;
  }
  if (auto v = headerValue(headers, "b3"); !v.empty()) {
    if (auto c = fromB3Single(v)) return *c;
  }
  if (auto c = fromB3Multi(headers)) return *c;
  return {};
}

bool sample(const TraceContext& in, double percent, double unit) {
  if (in.sampled) return *in.sampled;
  return unit * 100.0 < percent;
}

void inject(std::vector<route::Header>& headers, const std::string& trace_id, const std::string& span_id,
            const std::string& parent_span_id, bool sampled) {
  // Every copy the caller sent goes (a second one would reach the backend unchanged).
  std::erase_if(headers, [](const route::Header& h) {
    return h.name == "traceparent" || h.name == "b3" || h.name.starts_with("x-b3-");
  });
  headers.push_back({"traceparent", fmt::format("00-{}-{}-{}", trace_id, span_id, sampled ? "01" : "00")});
  headers.push_back({"x-b3-traceid", trace_id});
  headers.push_back({"x-b3-spanid", span_id});
  if (!parent_span_id.empty()) headers.push_back({"x-b3-parentspanid", parent_span_id});
  headers.push_back({"x-b3-sampled", sampled ? "1" : "0"});
}

std::string randomHex(std::size_t bytes, uint64_t (*next)()) {
  std::string out;
  for (int round = 0; round < 4; ++round) {  // all zeros twice in a row is 2^-64 odds; bounded anyway
    out.clear();
    uint64_t word = 0;
    for (std::size_t i = 0; i < bytes; ++i) {
      if (i % 8 == 0) word = next();
      out += fmt::format("{:02x}", static_cast<unsigned>(word & 0xff));
      word >>= 8;
    }
    if (!allZero(out)) return out;
  }
  out.back() = '1';
  return out;
}

std::string zipkinJson(const std::vector<Span>& spans) {
  auto out = nlohmann::json::array();
  for (const auto& s : spans) {
    nlohmann::json j = {{"traceId", s.trace_id},
                        {"id", s.id},
                        {"name", s.name},
                        {"kind", s.kind},
                        {"timestamp", s.timestamp_us},
                        {"duration", std::max<uint64_t>(s.duration_us, 1)},
                        {"localEndpoint", {{"serviceName", s.service}}}};
    if (!s.parent_id.empty()) j["parentId"] = s.parent_id;
    auto tags = nlohmann::json::object();
    for (const auto& [k, v] : s.tags) tags[k] = v;
    j["tags"] = std::move(tags);
    out.push_back(std::move(j));
  }
  return out.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ambit::waypoint::trace
