#include "waypoint/route/decide.h"

#include "common/base/ascii.h"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace ambit::waypoint::route {

namespace {

double clampUnit(double u) { return std::clamp(u, 0.0, std::nextafter(1.0, 0.0)); }

}  // namespace

std::optional<std::size_t> pickWeighted(const std::vector<uint32_t>& weights, double unit) {
  uint64_t total = 0;
  for (auto w : weights) total += w;
  if (total == 0) return std::nullopt;
  auto target = static_cast<uint64_t>(clampUnit(unit) * static_cast<double>(total));
  uint64_t acc = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    acc += weights[i];
    if (target < acc) return i;
  }
  // Rounding: the last destination with weight.
  for (std::size_t i = weights.size(); i-- > 0;) {
    if (weights[i] > 0) return i;
  }
  return std::nullopt;
}

const ambit::route::v1::Destination* tcpDestination(const ambit::route::v1::HostConfig& host, uint16_t port,
                                                     double unit) {
  for (const auto& r : host.tcp_routes()) {
    if (r.port() != 0 && r.port() != port) continue;
    std::vector<uint32_t> weights;
    weights.reserve(static_cast<std::size_t>(r.destinations_size()));
    for (const auto& dst : r.destinations()) weights.push_back(dst.weight());
    auto idx = pickWeighted(weights, unit);
    return idx ? &r.destinations(static_cast<int>(*idx)) : nullptr;
  }
  return nullptr;
}

bool retriable(const rv1::Retry& retry, const AttemptOutcome& o) {
  using F = AttemptOutcome::Failure;
  if (o.failure == F::kStreamIdle) return false;
  bool no_response = o.status == 0;
  for (const auto& on_raw : retry.retry_on()) {
    std::string_view on = on_raw;
    auto is = [on](std::string_view cond) { return equalsIgnoreCase(on, cond); };
    if (is("5xx")) {
      if (o.status >= 500 || no_response) return true;
    } else if (is("gateway-error")) {
      // Envoy: 502/503/504, and any attempt that got no response.
      if (o.status == 502 || o.status == 503 || o.status == 504 || no_response) return true;
    } else if (is("reset")) {
      // Envoy: no response at all (connect failures and refused streams included).
      if (no_response) return true;
    } else if (is("connect-failure")) {
      if (o.failure == F::kConnectFailure) return true;
    } else if (is("retriable-4xx")) {
      if (o.status == 409) return true;
    } else if (is("refused-stream")) {
      if (o.failure == F::kRefusedStream) return true;
    } else if (is("retriable-status-codes")) {
      for (auto code : retry.retriable_status_codes()) {
        if (o.status == static_cast<int>(code)) return true;
      }
    } else if (is("cancelled")) {
      if (o.grpc_status == 1) return true;
    } else if (is("deadline-exceeded")) {
      if (o.grpc_status == 4) return true;
    } else if (is("resource-exhausted")) {
      if (o.grpc_status == 8) return true;
    } else if (is("internal")) {
      if (o.grpc_status == 13) return true;
    } else if (is("unavailable")) {
      if (o.grpc_status == 14) return true;
    } else if (!on.empty() && on.size() <= 3 &&
               std::all_of(on.begin(), on.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      if (o.status == std::stoi(on_raw)) return true;
    }
  }
  return false;
}

std::chrono::milliseconds retryBackoff(const rv1::Retry& retry, unsigned attempt, double unit) {
  double base = retry.base_backoff_ms() > 0 ? retry.base_backoff_ms() : 25;
  double max = retry.max_backoff_ms() > 0 ? retry.max_backoff_ms() : 250;
  if (max < base) max = base;
  unsigned shift = attempt == 0 ? 0 : std::min(attempt - 1, 20u);
  double upper = std::min(max, base * static_cast<double>(1u << shift));
  return std::chrono::milliseconds(static_cast<int64_t>(clampUnit(unit) * upper));
}

FaultDecision decideFault(const rv1::Fault& fault, double delay_unit, double abort_unit) {
  FaultDecision d;
  if (fault.delay_ms() > 0 && clampUnit(delay_unit) * 100.0 < fault.delay_percent()) {
    d.delay = std::chrono::milliseconds(fault.delay_ms());
  }
  if (fault.abort_status() != 0 && clampUnit(abort_unit) * 100.0 < fault.abort_percent()) {
    d.abort_status = static_cast<int>(fault.abort_status());
  }
  return d;
}

void applyHeaderOps(const rv1::HeaderOps& ops, std::vector<Header>& headers) {
  auto erase = [&headers](std::string_view name) {
    headers.erase(std::remove_if(headers.begin(), headers.end(), [&](const Header& h) { return equalsIgnoreCase(h.name, name); }),
                  headers.end());
  };
  for (const auto& name : ops.remove()) erase(name);
  // Sorted for a stable order (protobuf maps have none).
  std::vector<std::pair<std::string, std::string>> set(ops.set().begin(), ops.set().end());
  std::sort(set.begin(), set.end());
  for (const auto& [name, value] : set) {
    erase(name);
    headers.push_back({asciiLowered(name), value});
  }
  std::vector<std::pair<std::string, std::string>> add(ops.add().begin(), ops.add().end());
  std::sort(add.begin(), add.end());
  for (const auto& [name, value] : add) headers.push_back({asciiLowered(name), value});
}

std::string rewritePath(const rv1::Rewrite& rewrite, const rv1::RouteMatch* matched, std::string_view path) {
  if (!rewrite.full_path().empty()) return rewrite.full_path();
  const std::string& with = rewrite.path_prefix();
  if (with.empty()) return std::string(path);
  const rv1::StringMatch* pm = matched != nullptr && matched->has_path() ? &matched->path() : nullptr;
  auto kind = pm != nullptr ? pm->kind() : rv1::StringMatch::PATH_PREFIX;  // no path match = any path = "/"
  std::string value = pm != nullptr ? pm->value() : "/";
  switch (kind) {
    case rv1::StringMatch::EXACT:
    case rv1::StringMatch::PREFIX:
      // Envoy's prefix_rewrite: a plain string replacement of what matched.
      return with + std::string(path.substr(std::min(value.size(), path.size())));
    case rv1::StringMatch::PATH_PREFIX: {
      // Gateway API ReplacePrefixMatch, segment-wise: "/foo" -> "/xyz" turns
      // "/foo/bar" into "/xyz/bar"; "/foo" -> "/" turns it into "/bar".
      while (value.size() > 1 && value.back() == '/') value.pop_back();
      std::string rest = value == "/" ? std::string(path) : std::string(path.substr(std::min(value.size(), path.size())));
      std::string base = with;
      while (!base.empty() && base.back() == '/') base.pop_back();
      std::string out = base + rest;
      return out.empty() ? "/" : out;
    }
    default:
      return std::string(path);  // a regex match has no prefix to replace
  }
}

std::string redirectLocation(const rv1::Redirect& redirect, const rv1::RouteMatch* matched, std::string_view scheme,
                             std::string_view authority, std::string_view path, std::string_view query) {
  std::string s = redirect.scheme().empty() ? std::string(scheme) : redirect.scheme();
  std::string host(authority);
  if (!redirect.authority().empty()) host = redirect.authority();
  if (redirect.port() != 0) {
    auto colon = host.rfind(':');
    if (colon != std::string::npos && host.find(']', colon) == std::string::npos) host = host.substr(0, colon);
    host += ":" + std::to_string(redirect.port());
  }
  std::string p(path);
  if (!redirect.path().empty()) {
    p = redirect.path();
  } else if (!redirect.path_prefix().empty()) {
    rv1::Rewrite rw;
    rw.set_path_prefix(redirect.path_prefix());
    p = rewritePath(rw, matched, path);
  }
  std::string loc = s + "://" + host + p;
  if (!query.empty() && redirect.path().find('?') == std::string::npos) loc += "?" + std::string(query);
  return loc;
}

bool upstreamHttp2(istio::workload::AppProtocol port, const rv1::TrafficPolicy& policy, bool client_http2) {
  using istio::workload::AppProtocol;
  if (policy.use_client_protocol()) return client_http2;
  if (port == AppProtocol::HTTP2 || port == AppProtocol::GRPC) return true;
  if (port == AppProtocol::UNKNOWN) return client_http2;  // sniffed: never upgraded
  return policy.h2_upgrade() == rv1::TrafficPolicy::H2_UPGRADE;
}

bool isGrpc(std::string_view content_type) {
  constexpr std::string_view kGrpc = "application/grpc";
  if (content_type.size() < kGrpc.size()) return false;
  for (std::size_t i = 0; i < kGrpc.size(); ++i) {
    char c = content_type[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != kGrpc[i]) return false;
  }
  if (content_type.size() == kGrpc.size()) return true;
  char next = content_type[kGrpc.size()];
  return next == '+' || next == ';';
}

int grpcStatusForHttp(int status) {
  switch (status) {
    case 400:
      return 13;  // INTERNAL
    case 401:
      return 16;  // UNAUTHENTICATED
    case 403:
      return 7;  // PERMISSION_DENIED
    case 404:
      return 12;  // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14;  // UNAVAILABLE
    default:
      return 2;  // UNKNOWN
  }
}

int grpcStatusValue(std::string_view value) {
  int v = -1;
  if (value.empty() || value.size() > 3) return -1;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  return ec == std::errc() && end == value.data() + value.size() && v >= 0 ? v : -1;
}

std::string grpcMessage(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c > 0x7e || c == '%') {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace ambit::waypoint::route
