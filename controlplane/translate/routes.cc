// VirtualService, HTTPRoute and DestinationRule -> the waypoint's HostConfig per
// destination host (proto/ambit/route/v1/route.proto; docs/route-config.md).
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <set>

#include "common/base/ascii.h"
#include "controlplane/model/parse.h"
#include "controlplane/translate/translate_internal.h"

namespace ambit::controlplane {
namespace {

namespace rt = ambit::route::v1;

// Istio's default retry policy for mesh traffic (applied when a route says nothing).
constexpr uint32_t kDefaultRetryAttempts = 2;
constexpr const char* kDefaultRetryOn = "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes";
constexpr uint32_t kDefaultRetriableStatus = 503;
constexpr uint32_t kBaseBackoffMs = 25;   // Envoy's defaults
constexpr uint32_t kMaxBackoffMs = 250;

uint32_t ms(std::chrono::milliseconds d) { return static_cast<uint32_t>(std::clamp<int64_t>(d.count(), 0, UINT32_MAX)); }

// Every host the mesh knows, with the namespace that declares it.
std::map<std::string, std::string> knownHosts(const Snapshot& snap, const MeshSettings& mesh) {
  std::map<std::string, std::string> hosts;
  for (const auto& [key, svc] : snap.services) hosts.emplace(serviceHostname(mesh, *svc), svc->meta.ns);
  for (const auto& [key, se] : snap.service_entries) {
    for (const auto& h : se->hosts) hosts.emplace(h, se->meta.ns);
  }
  return hosts;
}

// The known hosts a (resolved) host pattern names.
std::vector<std::string> expandHost(const std::string& pattern, const std::map<std::string, std::string>& known) {
  std::vector<std::string> out;
  if (pattern.find('*') == std::string::npos) {
    if (known.contains(pattern)) out.push_back(pattern);
    return out;
  }
  for (const auto& [host, ns] : known) {
    if (hostMatches(pattern, host)) out.push_back(host);
  }
  return out;
}

rt::StringMatch toMatch(const StringMatch& m, bool ignore_case = false) {
  rt::StringMatch out;
  switch (m.kind) {
    case StringMatch::Kind::kExact: out.set_kind(rt::StringMatch::EXACT); break;
    case StringMatch::Kind::kPrefix: out.set_kind(rt::StringMatch::PREFIX); break;
    case StringMatch::Kind::kRegex: out.set_kind(rt::StringMatch::REGEX); break;
  }
  out.set_value(m.value);
  out.set_ignore_case(ignore_case);
  return out;
}

void toHeaderOps(const HeaderOps& in, rt::HeaderOps* out) {
  for (const auto& [k, v] : in.set) (*out->mutable_set())[asciiLowered(k)] = v;
  for (const auto& [k, v] : in.add) (*out->mutable_add())[asciiLowered(k)] = v;
  for (const auto& k : in.remove) out->add_remove(asciiLowered(k));
}

void fillRetry(uint32_t attempts, const std::string& retry_on, std::optional<std::chrono::milliseconds> per_try,
               rt::Retry* out) {
  out->set_attempts(attempts);
  if (per_try) out->set_per_try_timeout_ms(ms(*per_try));
  bool codes = false;
  for (const auto& cond : splitCommaList(retry_on)) {
    uint32_t code = 0;
    auto [end, ec] = std::from_chars(cond.data(), cond.data() + cond.size(), code);
    if (ec == std::errc() && end == cond.data() + cond.size()) {
      if (code >= 100 && code <= 599) out->add_retriable_status_codes(code);  // the parser rejects the rest
      codes = true;
    } else {
      out->add_retry_on(cond);
      if (cond == "retriable-status-codes") codes = true;
    }
  }
  // A bare status code implies Envoy's retriable-status-codes condition;
  // Istio's default adds 503 to it.
  if (codes && std::find(out->retry_on().begin(), out->retry_on().end(), "retriable-status-codes") == out->retry_on().end()) {
    out->add_retry_on("retriable-status-codes");
  }
  if (codes && out->retriable_status_codes().empty()) out->add_retriable_status_codes(kDefaultRetriableStatus);
  out->set_base_backoff_ms(kBaseBackoffMs);
  out->set_max_backoff_ms(kMaxBackoffMs);
}

void defaultRetry(rt::Retry* out) { fillRetry(kDefaultRetryAttempts, kDefaultRetryOn, std::nullopt, out); }

// Istio's MergeTrafficPolicy: each section the subset writes (connectionPool,
// loadBalancer, outlierDetection, tls, retryBudget) replaces the host's section whole.
TrafficPolicy mergePolicy(const TrafficPolicy& base, const TrafficPolicy& over) {
  TrafficPolicy out = base;
  if (over.has_connection_pool) {
    out.has_connection_pool = true;
    out.max_connections = over.max_connections;
    out.connect_timeout = over.connect_timeout;
    out.tcp_idle_timeout = over.tcp_idle_timeout;
    out.http1_max_pending_requests = over.http1_max_pending_requests;
    out.http2_max_requests = over.http2_max_requests;
    out.max_requests_per_connection = over.max_requests_per_connection;
    out.max_retries = over.max_retries;
    out.idle_timeout = over.idle_timeout;
    out.h2_upgrade_policy = over.h2_upgrade_policy;
    out.use_client_protocol = over.use_client_protocol;
  }
  if (over.has_load_balancer) {
    out.has_load_balancer = true;
    out.lb_simple = over.lb_simple;
    out.consistent_hash = over.consistent_hash;
  }
  if (over.has_outlier_detection) {
    out.has_outlier_detection = true;
    out.consecutive_5xx_errors = over.consecutive_5xx_errors;
    out.consecutive_gateway_errors = over.consecutive_gateway_errors;
    out.outlier_interval = over.outlier_interval;
    out.base_ejection_time = over.base_ejection_time;
    out.max_ejection_percent = over.max_ejection_percent;
  }
  if (over.has_tls) {
    out.has_tls = true;
    out.tls_mode = over.tls_mode;
  }
  if (over.has_retry_budget) {
    out.has_retry_budget = true;
    out.retry_budget_percent = over.retry_budget_percent;
    out.min_retry_concurrency = over.min_retry_concurrency;
  }
  return out;
}

void toPolicy(const TrafficPolicy& tp, rt::TrafficPolicy* out) {
  static const std::map<std::string, rt::TrafficPolicy::LoadBalancer> kLb = {
      {"ROUND_ROBIN", rt::TrafficPolicy::ROUND_ROBIN},
      {"LEAST_REQUEST", rt::TrafficPolicy::LEAST_REQUEST},
      {"RANDOM", rt::TrafficPolicy::RANDOM},
      {"PASSTHROUGH", rt::TrafficPolicy::PASSTHROUGH},
  };
  if (auto it = kLb.find(tp.lb_simple); it != kLb.end()) out->set_load_balancer(it->second);
  if (tp.consistent_hash) {
    out->set_load_balancer(rt::TrafficPolicy::CONSISTENT_HASH);
    auto* ch = out->mutable_consistent_hash();
    const auto& h = *tp.consistent_hash;
    if (!h.header.empty()) ch->set_header(asciiLowered(h.header));
    else if (!h.cookie.empty()) ch->set_cookie(h.cookie);
    else if (!h.query_param.empty()) ch->set_query_param(h.query_param);
    else ch->set_source_ip(h.source_ip);
    if (h.cookie_ttl) ch->set_cookie_ttl_ms(ms(*h.cookie_ttl));
    ch->set_cookie_path(h.cookie_path);
  }
  auto u = [](const std::optional<int32_t>& v) { return v ? static_cast<uint32_t>(std::max(*v, 0)) : 0u; };
  auto d = [](const std::optional<std::chrono::milliseconds>& v) { return v ? ms(*v) : 0u; };
  out->set_max_connections(u(tp.max_connections));
  out->set_connect_timeout_ms(d(tp.connect_timeout));
  // Istio: 0s turns the TCP idle timeout off.
  if (tp.tcp_idle_timeout) {
    out->set_tcp_idle_timeout_ms(tp.tcp_idle_timeout->count() == 0 ? UINT32_MAX : d(tp.tcp_idle_timeout));
  }
  out->set_max_pending_requests(u(tp.http1_max_pending_requests));
  out->set_max_requests(u(tp.http2_max_requests));
  out->set_max_requests_per_connection(u(tp.max_requests_per_connection));
  out->set_max_retries(u(tp.max_retries));
  out->set_idle_timeout_ms(d(tp.idle_timeout));
  if (tp.h2_upgrade_policy == "UPGRADE") out->set_h2_upgrade(rt::TrafficPolicy::H2_UPGRADE);
  if (tp.h2_upgrade_policy == "DO_NOT_UPGRADE") out->set_h2_upgrade(rt::TrafficPolicy::H2_DO_NOT_UPGRADE);
  out->set_use_client_protocol(tp.use_client_protocol);
  if (tp.has_retry_budget) {
    out->mutable_retry_budget()->set_percent(tp.retry_budget_percent.value_or(20.0));
    out->mutable_retry_budget()->set_min_retry_concurrency(u(tp.min_retry_concurrency.value_or(3)));
  }
  out->set_consecutive_5xx_errors(u(tp.consecutive_5xx_errors));
  out->set_consecutive_gateway_errors(u(tp.consecutive_gateway_errors));
  out->set_outlier_interval_ms(d(tp.outlier_interval));
  out->set_base_ejection_time_ms(d(tp.base_ejection_time));
  out->set_max_ejection_percent(u(tp.max_ejection_percent));
}

class RouteBuilder {
 public:
  RouteBuilder(const Snapshot& snap, const MeshSettings& mesh, std::vector<std::string>& warnings)
      : snap_(snap), mesh_(mesh), warnings_(warnings), known_(knownHosts(snap, mesh)) {}

  std::map<std::string, rt::HostConfig> build() {
    destinationRules();
    virtualServices();
    httpRoutes();
    for (auto& [host, cfg] : out_) resolveDestinations(cfg);
    return std::move(out_);
  }

 private:
  rt::HostConfig& host(const std::string& name) {
    auto [it, inserted] = out_.try_emplace(name);
    if (inserted) {
      it->second.set_hostname(name);
      if (auto k = known_.find(name); k != known_.end()) it->second.set_namespace_(k->second);
    }
    return it->second;
  }

  // ---- DestinationRule ----
  // Istio's lookup for a host: rules in the host's own namespace first, then
  // the root namespace; within one, the most specific host (exact, then the
  // longest wildcard), then namespace/name. Rules elsewhere do not apply to the
  // host (Istio would use them only for clients in their namespace). Losers are reported.
  void destinationRules() {
    struct Claim {
      const DestinationRule* dr;
      int rank;  // smaller wins
    };
    std::map<std::string, Claim> claims;
    for (const auto& [key, ptr] : snap_.destination_rules) {
      const DestinationRule& dr = *ptr;
      std::string pattern = resolveHost(mesh_, dr.host, dr.meta.ns);
      auto hosts = expandHost(pattern, known_);
      if (hosts.empty()) {
        warnings_.push_back(fmt::format("DestinationRule/{}/{}: host '{}' names no service in the mesh", dr.meta.ns,
                                        dr.meta.name, dr.host));
        continue;
      }
      for (const auto& h : hosts) {
        int specificity = pattern.find('*') == std::string::npos ? 0 : 100000 - static_cast<int>(pattern.size());
        int locality = dr.meta.ns == known_.at(h) ? 0 : (dr.meta.ns == mesh_.root_namespace ? 1 : 2);
        if (locality == 2) {
          warnings_.push_back(fmt::format("DestinationRule/{}/{} does not apply to host {}: only rules in the host's "
                                          "namespace ({}) or the root namespace ({}) do",
                                          dr.meta.ns, dr.meta.name, h, known_.at(h), mesh_.root_namespace));
          continue;
        }
        int rank = locality * 1000000 + specificity;
        auto [it, inserted] = claims.try_emplace(h, Claim{&dr, rank});
        if (inserted) continue;
        const DestinationRule* loser = &dr;
        if (rank < it->second.rank) std::swap(loser, it->second.dr), it->second.rank = rank;
        warnings_.push_back(fmt::format("DestinationRule/{}/{} is ignored for host {}: DestinationRule/{}/{} applies",
                                        loser->meta.ns, loser->meta.name, h, it->second.dr->meta.ns,
                                        it->second.dr->meta.name));
      }
    }
    for (const auto& [h, claim] : claims) {
      const DestinationRule& dr = *claim.dr;
      rt::HostConfig& cfg = host(h);
      cfg.add_sources(fmt::format("DestinationRule/{}/{}", dr.meta.ns, dr.meta.name));
      TrafficPolicy base = dr.traffic_policy.value_or(TrafficPolicy{});
      toPolicy(base, cfg.mutable_policy());
      for (const auto& s : dr.subsets) {
        auto* sub = cfg.add_subsets();
        sub->set_name(s.name);
        for (const auto& [k, v] : s.labels) (*sub->mutable_labels())[k] = v;
        toPolicy(s.traffic_policy ? mergePolicy(base, *s.traffic_policy) : base, sub->mutable_policy());
      }
    }
  }

  // ---- VirtualService ----
  // Only VirtualServices bound to the mesh (no gateways, or "mesh" among them).
  // One per host: the first by namespace/name; later ones are reported.
  void virtualServices() {
    for (const auto& [key, ptr] : snap_.virtual_services) {
      const VirtualService& vs = *ptr;
      if (!vs.gateways.empty() && std::find(vs.gateways.begin(), vs.gateways.end(), "mesh") == vs.gateways.end()) {
        continue;  // bound to ingress gateways only
      }
      std::string source = fmt::format("VirtualService/{}/{}", vs.meta.ns, vs.meta.name);
      for (const auto& raw : vs.hosts) {
        auto hosts = expandHost(resolveHost(mesh_, raw, vs.meta.ns), known_);
        if (hosts.empty()) {
          warnings_.push_back(fmt::format("{}: host '{}' names no service in the mesh", source, raw));
        }
        for (const auto& h : hosts) {
          if (auto owner = vs_owner_.find(h); owner != vs_owner_.end()) {
            if (owner->second != source) {
              warnings_.push_back(fmt::format("{} is ignored for host {}: {} already routes it", source, h, owner->second));
            }
            continue;
          }
          vs_owner_[h] = source;
          rt::HostConfig& cfg = host(h);
          cfg.add_sources(source);
          addVirtualService(vs, source, cfg);
        }
      }
    }
  }

  rt::Destination destination(const Destination& d, const std::string& ns) {
    rt::Destination out;
    out.set_host(resolveHost(mesh_, d.host, ns));
    if (d.port) out.set_port(*d.port);
    out.set_subset(d.subset);
    return out;
  }

  void addVirtualService(const VirtualService& vs, const std::string& source, rt::HostConfig& cfg) {
    const std::string& ns = vs.meta.ns;
    for (size_t i = 0; i < vs.http.size(); ++i) {
      const HttpRoute& r = vs.http[i];
      rt::HttpRoute* out = cfg.add_http_routes();
      out->set_name(r.name.empty() ? fmt::format("{}#{}", source, i) : fmt::format("{}/{}#{}", source, r.name, i));
      for (const auto& m : r.match) {
        rt::RouteMatch* rm = out->add_matches();
        if (m.uri) *rm->mutable_path() = toMatch(*m.uri, m.ignore_uri_case);
        if (m.method) *rm->mutable_method() = toMatch(*m.method);
        if (m.authority) *rm->mutable_authority() = toMatch(*m.authority, true);
        for (const auto& [name, sm] : m.headers) {
          auto* h = rm->add_headers();
          h->set_name(asciiLowered(name));
          *h->mutable_match() = toMatch(sm);
        }
        for (const auto& [name, sm] : m.without_headers) {
          auto* h = rm->add_headers();
          h->set_name(asciiLowered(name));
          *h->mutable_match() = toMatch(sm);
          h->set_invert(true);
        }
        for (const auto& [name, sm] : m.query_params) {
          auto* q = rm->add_query_params();
          q->set_name(name);
          *q->mutable_match() = toMatch(sm);
        }
        if (m.port) rm->set_port(*m.port);
      }
      for (const auto& d : r.route) {
        rt::Destination* dst = out->add_destinations();
        *dst = destination(d.destination, ns);
        // A single destination without a weight takes everything.
        dst->set_weight(r.route.size() == 1 && d.weight == 0 ? 100 : static_cast<uint32_t>(std::max(d.weight, 0)));
        toHeaderOps(d.request_headers, dst->mutable_request_headers());
        toHeaderOps(d.response_headers, dst->mutable_response_headers());
      }
      if (r.redirect) {
        auto* red = out->mutable_redirect();
        red->set_path(r.redirect->uri);
        red->set_authority(r.redirect->authority);
        red->set_status(static_cast<uint32_t>(r.redirect->code));
      }
      if (!r.rewrite_uri.empty()) out->mutable_rewrite()->set_path_prefix(r.rewrite_uri);
      if (!r.rewrite_authority.empty()) out->mutable_rewrite()->set_authority(r.rewrite_authority);
      toHeaderOps(r.request_headers, out->mutable_request_headers());
      toHeaderOps(r.response_headers, out->mutable_response_headers());
      if (r.timeout) out->set_timeout_ms(ms(*r.timeout));
      if (r.retries) {
        fillRetry(static_cast<uint32_t>(std::max(r.retries->attempts, 0)),
                  r.retries->retry_on.empty() ? kDefaultRetryOn : r.retries->retry_on, r.retries->per_try_timeout,
                  out->mutable_retry());
      } else {
        defaultRetry(out->mutable_retry());
      }
      if (r.fault) {
        auto* f = out->mutable_fault();
        if (r.fault->delay) {
          f->set_delay_ms(ms(*r.fault->delay));
          f->set_delay_percent(r.fault->delay_percent);
        }
        if (r.fault->abort_status) {
          f->set_abort_status(static_cast<uint32_t>(*r.fault->abort_status));
          f->set_abort_percent(r.fault->abort_percent);
        }
      }
      if (r.mirror) {
        auto* m = out->add_mirrors();
        *m->mutable_destination() = destination(*r.mirror, ns);
        m->set_percent(r.mirror_percent);
      }
    }
    for (const auto& t : vs.tcp) {
      std::vector<uint16_t> ports = t.match_ports.empty() ? std::vector<uint16_t>{0} : t.match_ports;
      for (uint16_t port : ports) {
        rt::TcpRoute* out = cfg.add_tcp_routes();
        out->set_port(port);
        for (const auto& d : t.route) {
          rt::Destination* dst = out->add_destinations();
          *dst = destination(d.destination, ns);
          dst->set_weight(t.route.size() == 1 && d.weight == 0 ? 100 : static_cast<uint32_t>(std::max(d.weight, 0)));
        }
      }
    }
  }

  // ---- HTTPRoute (Gateway API, GAMMA: parentRef is a Service) ----
  struct Candidate {
    std::string route_key;  // "ns/name" for the tie-break
    size_t rule_index = 0;
    size_t match_index = 0;
    rt::HttpRoute route;
    // Gateway API precedence, most significant first.
    int path_rank = 0;  // 2 exact, 1 prefix/regex, 0 none
    size_t path_len = 0;
    bool method = false;
    size_t headers = 0;
    size_t queries = 0;
  };

  static bool before(const Candidate& a, const Candidate& b) {
    if (a.path_rank != b.path_rank) return a.path_rank > b.path_rank;
    if (a.path_len != b.path_len) return a.path_len > b.path_len;
    if (a.method != b.method) return a.method;
    if (a.headers != b.headers) return a.headers > b.headers;
    if (a.queries != b.queries) return a.queries > b.queries;
    if (a.route_key != b.route_key) return a.route_key < b.route_key;
    if (a.rule_index != b.rule_index) return a.rule_index < b.rule_index;
    return a.match_index < b.match_index;
  }

  // Destination for a backendRef, or an `unresolved` reason.
  rt::Destination backend(const BackendRef& b, const std::string& route_ns) {
    rt::Destination out;
    std::string ns = b.ns.empty() ? route_ns : b.ns;
    out.set_weight(static_cast<uint32_t>(std::max(b.weight, 0)));
    if (ns != route_ns) {
      // Gateway API: another namespace's backend needs that namespace's
      // ReferenceGrant, which Ambit does not read yet; refuse rather than bypass.
      out.set_host(b.name + "." + ns);
      out.set_unresolved(fmt::format("backendRef to namespace {} needs a ReferenceGrant (not supported yet)", ns));
      return out;
    }
    if ((b.group.empty() || b.group == "core") && b.kind == "Service") {
      out.set_host(fmt::format("{}.{}.svc.{}", b.name, ns, mesh_.domain_suffix));
      if (!b.port) out.set_unresolved(fmt::format("backendRef Service {}/{} needs a port", ns, b.name));
    } else if (b.group == "networking.istio.io" && b.kind == "Hostname") {
      out.set_host(b.name);
      if (!b.port) out.set_unresolved(fmt::format("backendRef Hostname {} needs a port", b.name));
    } else {
      out.set_host(b.name);
      out.set_unresolved(fmt::format("backendRef kind {}/{} is not supported", b.group, b.kind));
    }
    if (b.port) out.set_port(*b.port);
    return out;
  }

  void httpRoutes() {
    std::map<std::string, std::vector<Candidate>> by_host;
    std::map<std::string, std::set<std::string>> sources;
    for (const auto& [key, ptr] : snap_.http_routes) {
      const HTTPRoute& route = *ptr;
      const std::string& ns = route.meta.ns;
      std::string source = fmt::format("HTTPRoute/{}/{}", ns, route.meta.name);
      for (const auto& parent : route.parents) {
        std::string parent_ns = parent.ns.empty() ? ns : parent.ns;
        if (parent.kind != "Service" || !(parent.group.empty() || parent.group == "core")) {
          if (parent.kind == "Gateway") {
            warnings_.push_back(fmt::format("{}: parentRef Gateway {}/{} is not routed by the mesh; attach the route "
                                            "to a Service (GAMMA) for waypoint routing",
                                            source, parent_ns, parent.name));
          } else {
            warnings_.push_back(fmt::format("{}: parentRef kind {} is not supported", source, parent.kind));
          }
          continue;
        }
        if (parent_ns != ns) {
          warnings_.push_back(fmt::format("{}: consumer routes (parentRef Service in another namespace, {}) are not "
                                          "supported; the route is ignored for it",
                                          source, parent_ns));
          continue;
        }
        std::string h = fmt::format("{}.{}.svc.{}", parent.name, parent_ns, mesh_.domain_suffix);
        if (!known_.contains(h)) {
          warnings_.push_back(fmt::format("{}: parentRef Service {}/{} does not exist", source, parent_ns, parent.name));
          continue;
        }
        sources[h].insert(source);
        for (size_t ri = 0; ri < route.rules.size(); ++ri) {
          const HttpRouteRule& rule = route.rules[ri];
          // No matches = one match on PathPrefix "/".
          std::vector<HttpRouteMatch> matches = rule.matches;
          if (matches.empty()) matches.push_back(HttpRouteMatch{StringMatch{StringMatch::Kind::kPrefix, "/"}, {}, {}, ""});
          for (size_t mi = 0; mi < matches.size(); ++mi) {
            by_host[h].push_back(candidate(route, source, ri, mi, rule, matches[mi], parent.port));
          }
        }
      }
    }
    for (auto& [h, candidates] : by_host) {
      std::stable_sort(candidates.begin(), candidates.end(), before);
      rt::HostConfig& cfg = host(h);
      if (auto owner = vs_owner_.find(h); owner != vs_owner_.end()) {
        warnings_.push_back(fmt::format("{} is ignored for host {}: HTTPRoutes route it", owner->second, h));
        cfg.clear_http_routes();
        cfg.clear_tcp_routes();
        auto* src = cfg.mutable_sources();
        src->erase(std::remove(src->begin(), src->end(), owner->second), src->end());
      }
      for (const auto& s : sources[h]) cfg.add_sources(s);
      for (auto& c : candidates) *cfg.add_http_routes() = std::move(c.route);
    }
  }

  Candidate candidate(const HTTPRoute& route, const std::string& source, size_t ri, size_t mi,
                      const HttpRouteRule& rule, const HttpRouteMatch& m, std::optional<uint16_t> parent_port) {
    Candidate c;
    c.route_key = route.meta.ns + "/" + route.meta.name;
    c.rule_index = ri;
    c.match_index = mi;
    rt::HttpRoute& out = c.route;
    out.set_name(fmt::format("{}#{}.{}", source, ri, mi));
    rt::RouteMatch* rm = out.add_matches();
    if (m.path) {
      *rm->mutable_path() = toMatch(*m.path);
      // Gateway API's PathPrefix matches whole segments.
      if (m.path->kind == StringMatch::Kind::kPrefix) rm->mutable_path()->set_kind(rt::StringMatch::PATH_PREFIX);
      c.path_rank = m.path->kind == StringMatch::Kind::kExact ? 2 : 1;
      c.path_len = m.path->value.size();
    }
    if (!m.method.empty()) {
      rm->mutable_method()->set_value(m.method);
      c.method = true;
    }
    for (const auto& [name, sm] : m.headers) {
      auto* h = rm->add_headers();
      h->set_name(asciiLowered(name));
      *h->mutable_match() = toMatch(sm);
    }
    for (const auto& [name, sm] : m.query_params) {
      auto* q = rm->add_query_params();
      q->set_name(name);
      *q->mutable_match() = toMatch(sm);
    }
    c.headers = m.headers.size();
    c.queries = m.query_params.size();
    if (parent_port) rm->set_port(*parent_port);

    uint32_t total_weight = 0;
    for (const auto& b : rule.backends) {
      *out.add_destinations() = backend(b, route.meta.ns);
      total_weight += static_cast<uint32_t>(std::max(b.weight, 0));
    }
    if (rule.redirect) {
      auto* red = out.mutable_redirect();
      red->set_scheme(rule.redirect->scheme);
      red->set_authority(rule.redirect->hostname);
      if (rule.redirect->port) red->set_port(*rule.redirect->port);
      if (rule.redirect->path_is_prefix) red->set_path_prefix(rule.redirect->path);
      else red->set_path(rule.redirect->path);
      red->set_status(static_cast<uint32_t>(rule.redirect->status));
    } else if (rule.backends.empty() || total_weight == 0) {
      // Gateway API: a rule with no usable backend answers 500.
      out.set_direct_status(500);
    }
    if (!rule.rewrite_path_prefix.empty()) out.mutable_rewrite()->set_path_prefix(rule.rewrite_path_prefix);
    if (!rule.rewrite_full_path.empty()) out.mutable_rewrite()->set_full_path(rule.rewrite_full_path);
    if (!rule.rewrite_hostname.empty()) out.mutable_rewrite()->set_authority(rule.rewrite_hostname);
    toHeaderOps(rule.request_headers, out.mutable_request_headers());
    toHeaderOps(rule.response_headers, out.mutable_response_headers());
    if (rule.timeout) out.set_timeout_ms(ms(*rule.timeout));
    defaultRetry(out.mutable_retry());
    if (rule.backend_timeout) out.mutable_retry()->set_per_try_timeout_ms(ms(*rule.backend_timeout));
    if (rule.mirror) {
      auto* mirror = out.add_mirrors();
      *mirror->mutable_destination() = backend(*rule.mirror, route.meta.ns);
      mirror->mutable_destination()->set_weight(0);
      mirror->set_percent(100);
    }
    return c;
  }

  // ---- destinations: unknown hosts and subsets become `unresolved` ----
  void resolveDestination(rt::Destination& d) {
    if (!d.unresolved().empty()) return;
    if (!known_.contains(d.host())) {
      d.set_unresolved(fmt::format("no service for host {}", d.host()));
      return;
    }
    if (d.subset().empty()) return;
    auto it = out_.find(d.host());
    if (it != out_.end()) {
      for (const auto& s : it->second.subsets()) {
        if (s.name() == d.subset()) {
          *d.mutable_subset_labels() = s.labels();
          return;
        }
      }
    }
    d.set_unresolved(fmt::format("subset {} of host {} is not defined by a DestinationRule", d.subset(), d.host()));
  }

  void resolveDestinations(rt::HostConfig& cfg) {
    for (auto& r : *cfg.mutable_http_routes()) {
      for (auto& d : *r.mutable_destinations()) resolveDestination(d);
      for (auto& m : *r.mutable_mirrors()) resolveDestination(*m.mutable_destination());
    }
    for (auto& t : *cfg.mutable_tcp_routes()) {
      for (auto& d : *t.mutable_destinations()) resolveDestination(d);
    }
    for (const auto& r : cfg.http_routes()) {
      for (const auto& d : r.destinations()) {
        if (!d.unresolved().empty()) {
          warnings_.push_back(fmt::format("{}: {} (requests to it get 500)", r.name(), d.unresolved()));
        }
      }
    }
  }

  const Snapshot& snap_;
  const MeshSettings& mesh_;
  std::vector<std::string>& warnings_;
  std::map<std::string, std::string> known_;
  std::map<std::string, std::string> vs_owner_;  // host -> "VirtualService/ns/name"
  std::map<std::string, rt::HostConfig> out_;
};

}  // namespace

std::string resolveHost(const MeshSettings& mesh, const std::string& host, const std::string& ns) {
  if (host.find('.') != std::string::npos || host == "*") return host;
  return fmt::format("{}.{}.svc.{}", host, ns, mesh.domain_suffix);
}

bool hostMatches(const std::string& pattern, const std::string& host) {
  if (pattern == "*") return true;
  if (pattern.starts_with("*")) {
    std::string_view suffix = std::string_view(pattern).substr(1);  // ".example.com"
    return host.size() > suffix.size() && host.ends_with(suffix);
  }
  return pattern == host;
}

std::map<std::string, ambit::route::v1::HostConfig> translateRoutes(const Snapshot& snap, const MeshSettings& mesh,
                                                                    std::vector<std::string>& warnings) {
  return RouteBuilder(snap, mesh, warnings).build();
}

}  // namespace ambit::controlplane
