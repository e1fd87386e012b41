// networking.istio.io and security.istio.io kinds. Every spec field is checked:
// an unknown field is an error (a typo in policy must not pass), a known Istio
// field Ambit does not implement yet is a warning.
#include <set>
#include <charconv>
#include "controlplane/model/parse.h"

namespace ambit::controlplane {
namespace {

Labels matchLabels(YamlReader r, bool& present) {
  present = true;
  Labels l = r.stringMap("matchLabels");
  r.done();
  return l;
}

Destination parseDestination(YamlReader d) {
  Destination out;
  out.host = d.requiredStr("host");
  out.subset = d.str("subset");
  if (d.has("port")) {
    YamlReader p = d.child("port");
    out.port = p.port("number");
    p.done();
  }
  d.done();
  return out;
}

HeaderOps parseHeaderOps(YamlReader r) {
  HeaderOps h;
  h.set = r.stringMap("set");
  h.add = r.stringMap("add");
  h.remove = r.strings("remove");
  r.done();
  return h;
}

// A number in [0, 100] at `key`; nullopt when absent or bad (then an error names it).
std::optional<double> percentField(YamlReader& r, const std::string& key) {
  YAML::Node v = r.raw(key);
  if (!v.IsDefined()) return std::nullopt;
  try {
    double d = v.as<double>();
    if (d >= 0 && d <= 100) return d;
    r.ctx().error(v.Mark(), r.path() + "." + key, "must be between 0 and 100");
  } catch (const YAML::Exception&) {
    r.ctx().error(v.Mark(), r.path() + "." + key, "expected a number");
  }
  return std::nullopt;
}

double percentage(YamlReader r) {
  auto d = percentField(r, "value");
  r.done();
  return d.value_or(100);
}

std::map<std::string, StringMatch> stringMatchMap(YamlReader& r, const std::string& key) {
  std::map<std::string, StringMatch> out;
  for (auto& [name, m] : r.mapOfObjects(key)) out[name] = parseStringMatch(m);
  return out;
}

HttpMatch parseHttpMatch(YamlReader m) {
  HttpMatch out;
  out.name = m.str("name");
  if (m.has("uri")) out.uri = parseStringMatch(m.child("uri"));
  if (m.has("method")) out.method = parseStringMatch(m.child("method"));
  if (m.has("authority")) out.authority = parseStringMatch(m.child("authority"));
  out.headers = stringMatchMap(m, "headers");
  out.without_headers = stringMatchMap(m, "withoutHeaders");
  out.query_params = stringMatchMap(m, "queryParams");
  out.port = m.port("port");
  out.ignore_uri_case = m.boolean("ignoreUriCase").value_or(false);
  m.unsupported({"scheme", "sourceLabels", "gateways", "sourceNamespace", "statPrefix"});
  m.done();
  return out;
}

RouteDestination parseRouteDestination(YamlReader r) {
  RouteDestination out;
  out.destination = parseDestination(r.child("destination"));
  out.weight = static_cast<int32_t>(r.integer("weight", 0, 100).value_or(0));
  if (r.has("headers")) {
    YamlReader h = r.child("headers");
    if (h.has("request")) out.request_headers = parseHeaderOps(h.child("request"));
    if (h.has("response")) out.response_headers = parseHeaderOps(h.child("response"));
    h.done();
  }
  r.done();
  return out;
}

HttpRoute parseHttpRoute(YamlReader r) {
  HttpRoute out;
  out.name = r.str("name");
  for (auto& m : r.list("match")) out.match.push_back(parseHttpMatch(m));
  for (auto& d : r.list("route")) out.route.push_back(parseRouteDestination(d));
  out.timeout = r.duration("timeout");
  if (r.has("retries")) {
    YamlReader rt = r.child("retries");
    HttpRetry retry;
    retry.attempts = static_cast<int32_t>(rt.integer("attempts", 0, 100).value_or(0));
    retry.per_try_timeout = rt.duration("perTryTimeout");
    retry.retry_on = rt.str("retryOn");
    {
      // Envoy's conditions, or HTTP status codes (retriable-status-codes).
      static const std::set<std::string> kConditions = {
          "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "envoy-ratelimited",
          "retriable-4xx", "refused-stream", "retriable-status-codes", "retriable-headers", "http3-post-connect-failure",
          "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable"};
      for (const auto& item : splitCommaList(retry.retry_on)) {
        if (kConditions.count(item)) continue;
        int code = 0;
        auto [end, ec] = std::from_chars(item.data(), item.data() + item.size(), code);
        if (ec == std::errc() && end == item.data() + item.size() && code >= 100 && code <= 599) continue;
        rt.ctx().error(rt.mark(), rt.path() + ".retryOn",
                       fmt::format("'{}' is neither a retry condition (5xx, gateway-error, connect-failure, ...) nor "
                                   "an HTTP status code",
                                   item));
      }
    }
    rt.unsupported({"retryRemoteLocalities", "retryIgnorePreviousHosts", "backoff"});
    rt.done();
    out.retries = retry;
  }
  if (r.has("fault")) {
    YamlReader f = r.child("fault");
    HttpFault fault;
    if (f.has("delay")) {
      YamlReader d = f.child("delay");
      fault.delay = d.duration("fixedDelay");
      if (!fault.delay) d.ctx().error(d.mark(), d.path() + ".fixedDelay", "is required");
      if (d.has("percentage")) fault.delay_percent = percentage(d.child("percentage"));
      d.unsupported({"percent", "exponentialDelay"});
      d.done();
    }
    if (f.has("abort")) {
      YamlReader a = f.child("abort");
      fault.abort_status = static_cast<int32_t>(a.integer("httpStatus", 200, 599).value_or(503));
      if (a.has("percentage")) fault.abort_percent = percentage(a.child("percentage"));
      a.unsupported({"grpcStatus", "http2Error"});
      a.done();
    }
    f.done();
    out.fault = fault;
  }
  if (r.has("mirror")) out.mirror = parseDestination(r.child("mirror"));
  if (r.has("mirrorPercentage")) out.mirror_percent = percentage(r.child("mirrorPercentage"));
  if (r.has("rewrite")) {
    YamlReader rw = r.child("rewrite");
    out.rewrite_uri = rw.str("uri");
    out.rewrite_authority = rw.str("authority");
    rw.unsupported({"uriRegexRewrite"});
    rw.done();
  }
  if (r.has("redirect")) {
    YamlReader rd = r.child("redirect");
    HttpRoute::Redirect red;
    red.uri = rd.str("uri");
    red.authority = rd.str("authority");
    red.code = static_cast<int32_t>(rd.integer("redirectCode", 300, 399).value_or(301));
    rd.unsupported({"port", "derivePort", "scheme"});
    rd.done();
    out.redirect = red;
  }
  if (r.has("headers")) {
    YamlReader h = r.child("headers");
    if (h.has("request")) out.request_headers = parseHeaderOps(h.child("request"));
    if (h.has("response")) out.response_headers = parseHeaderOps(h.child("response"));
    h.done();
  }
  r.unsupported({"corsPolicy", "delegate", "mirrors", "directResponse"});
  r.done();
  if (!out.route.empty() && out.redirect) r.ctx().error(r.mark(), r.path(), "route and redirect cannot both be set");
  if (out.route.empty() && !out.redirect) r.ctx().error(r.mark(), r.path() + ".route", "needs at least one destination");
  if (out.route.size() > 1) {
    int32_t total = 0;
    for (const auto& d : out.route) total += d.weight;
    if (total != 100) {
      r.ctx().error(r.mark(), r.path() + ".route", fmt::format("weights must add up to 100, they add up to {}", total));
    }
  }
  return out;
}

std::optional<TrafficPolicy> parseTrafficPolicy(YamlReader r) {
  TrafficPolicy tp;
  tp.has_connection_pool = r.has("connectionPool");
  tp.has_load_balancer = r.has("loadBalancer");
  tp.has_outlier_detection = r.has("outlierDetection");
  tp.has_tls = r.has("tls");
  if (r.has("connectionPool")) {
    YamlReader cp = r.child("connectionPool");
    if (cp.has("tcp")) {
      YamlReader tcp = cp.child("tcp");
      if (auto v = tcp.integer("maxConnections", 1, INT32_MAX)) tp.max_connections = static_cast<int32_t>(*v);
      tp.connect_timeout = tcp.duration("connectTimeout");
      tp.tcp_idle_timeout = tcp.duration("idleTimeout");
      tcp.unsupported({"tcpKeepalive", "maxConnectionDuration"});
      tcp.done();
    }
    if (cp.has("http")) {
      YamlReader h = cp.child("http");
      if (auto v = h.integer("http1MaxPendingRequests", 1, INT32_MAX)) tp.http1_max_pending_requests = int32_t(*v);
      if (auto v = h.integer("http2MaxRequests", 1, INT32_MAX)) tp.http2_max_requests = int32_t(*v);
      if (auto v = h.integer("maxRequestsPerConnection", 0, INT32_MAX)) tp.max_requests_per_connection = int32_t(*v);
      if (auto v = h.integer("maxRetries", 0, INT32_MAX)) tp.max_retries = int32_t(*v);
      tp.idle_timeout = h.duration("idleTimeout");
      tp.h2_upgrade_policy = h.enumValue("h2UpgradePolicy", {"DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"}, "");
      tp.use_client_protocol = h.boolean("useClientProtocol").value_or(false);
      h.unsupported({"maxConcurrentStreams"});
      h.done();
    }
    cp.done();
  }
  if (r.has("loadBalancer")) {
    YamlReader lb = r.child("loadBalancer");
    tp.lb_simple = lb.enumValue("simple", {"UNSPECIFIED", "ROUND_ROBIN", "LEAST_REQUEST", "RANDOM", "PASSTHROUGH", "LEAST_CONN"},
                                "UNSPECIFIED");
    if (tp.lb_simple == "LEAST_CONN") tp.lb_simple = "LEAST_REQUEST";  // Istio's deprecated alias
    if (lb.has("consistentHash")) {
      YamlReader ch = lb.child("consistentHash");
      TrafficPolicy::ConsistentHash hash;
      int keys = 0;
      if (ch.has("httpHeaderName")) hash.header = ch.requiredStr("httpHeaderName"), ++keys;
      if (ch.has("httpQueryParameterName")) hash.query_param = ch.requiredStr("httpQueryParameterName"), ++keys;
      if (auto v = ch.boolean("useSourceIp")) hash.source_ip = *v, ++keys;
      if (ch.has("httpCookie")) {
        YamlReader c = ch.child("httpCookie");
        hash.cookie = c.requiredStr("name");
        hash.cookie_path = c.str("path");
        hash.cookie_ttl = c.duration("ttl");
        c.unsupported({"attributes"});
        c.done();
        ++keys;
      }
      if (keys != 1) ch.ctx().error(ch.mark(), ch.path(), "needs exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName");
      ch.unsupported({"ringHash", "maglev", "minimumRingSize"});
      ch.done();
      if (tp.lb_simple != "UNSPECIFIED") lb.ctx().error(lb.mark(), lb.path(), "simple and consistentHash cannot both be set");
      tp.consistent_hash = hash;
    }
    lb.unsupported({"localityLbSetting", "warmupDurationSecs", "warmup"});
    lb.done();
  }
  if (r.has("outlierDetection")) {
    YamlReader od = r.child("outlierDetection");
    if (auto v = od.integer("consecutive5xxErrors", 0, INT32_MAX)) tp.consecutive_5xx_errors = int32_t(*v);
    if (auto v = od.integer("consecutiveGatewayErrors", 0, INT32_MAX)) tp.consecutive_gateway_errors = int32_t(*v);
    tp.outlier_interval = od.duration("interval");
    tp.base_ejection_time = od.duration("baseEjectionTime");
    if (auto v = od.integer("maxEjectionPercent", 0, 100)) tp.max_ejection_percent = int32_t(*v);
    od.unsupported({"minHealthPercent", "splitExternalLocalOriginErrors", "consecutiveLocalOriginFailures",
                    "consecutiveErrors"});
    od.done();
  }
  if (r.has("tls")) {
    YamlReader tls = r.child("tls");
    tp.tls_mode = tls.enumValue("mode", {"DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"}, "DISABLE");
    tls.unsupported({"clientCertificate", "privateKey", "caCertificates", "credentialName", "subjectAltNames", "sni",
                     "insecureSkipVerify", "caCrl"});
    tls.done();
  }
  if (r.has("retryBudget")) {
    YamlReader rb = r.child("retryBudget");
    tp.has_retry_budget = true;
    tp.retry_budget_percent = percentField(rb, "percent");
    if (auto v = rb.integer("minRetryConcurrency", 0, INT32_MAX)) tp.min_retry_concurrency = int32_t(*v);
    rb.unsupported({"budgetInterval"});
    rb.done();
  }
  r.unsupported({"portLevelSettings", "tunnel", "proxyProtocol"});
  r.done();
  return tp;
}

std::vector<std::string> checkedPorts(YamlReader& r, const std::string& key) {
  auto ports = r.strings(key);
  for (const auto& p : ports) {
    if (!parsePortNumber(p)) r.error(key, fmt::format("'{}' is not a port number", p));
  }
  return ports;
}

std::vector<std::string> checkedBlocks(YamlReader& r, const std::string& key) {
  auto blocks = r.strings(key);
  for (const auto& b : blocks) {
    if (!isCidrOrIp(b)) r.error(key, fmt::format("'{}' is not an IP address or CIDR block", b));
  }
  return blocks;
}

}  // namespace

ServiceEntry parseServiceEntry(YamlReader& root, ObjectMeta meta) {
  ServiceEntry se;
  se.meta = std::move(meta);
  YamlReader spec = root.child("spec");
  se.hosts = spec.strings("hosts");
  if (se.hosts.empty()) spec.ctx().error(spec.mark(), "spec.hosts", "needs at least one host");
  se.addresses = spec.strings("addresses");
  for (const auto& a : se.addresses) {
    if (!isCidrOrIp(a)) spec.error("addresses", fmt::format("'{}' is not an IP address or CIDR block", a));
  }
  for (auto& p : spec.list("ports")) {
    ServiceEntry::Port port;
    port.number = p.port("number").value_or(0);
    port.protocol = p.str("protocol");
    port.name = p.str("name");
    port.target_port = p.port("targetPort");
    p.done();
    se.ports.push_back(port);
  }
  se.location = spec.enumValue("location", {"MESH_EXTERNAL", "MESH_INTERNAL"}, "MESH_EXTERNAL");
  se.resolution = spec.enumValue("resolution", {"NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN"}, "NONE");
  for (auto& e : spec.list("endpoints")) {
    ServiceEntry::Endpoint ep;
    ep.address = e.str("address");
    for (auto& [name, port] : e.stringMap("ports")) {
      if (auto n = parsePortNumber(port)) ep.ports[name] = *n;
      else e.error("ports", fmt::format("port '{}' is not a number between 1 and 65535", port));
    }
    ep.labels = e.stringMap("labels");
    ep.service_account = e.str("serviceAccount");
    ep.network = e.str("network");
    ep.weight = static_cast<uint32_t>(e.integer("weight", 0, UINT32_MAX).value_or(0));
    e.unsupported({"locality"});
    e.done();
    se.endpoints.push_back(std::move(ep));
  }
  if (spec.has("workloadSelector")) {
    YamlReader ws = spec.child("workloadSelector");
    se.workload_selector = ws.stringMap("labels");
    se.has_workload_selector = true;
    ws.done();
  }
  spec.unsupported({"exportTo", "subjectAltNames"});
  spec.done();
  if (se.resolution == "STATIC" && se.endpoints.empty() && !se.has_workload_selector) {
    spec.ctx().error(spec.mark(), "spec.endpoints", "resolution STATIC needs endpoints or a workloadSelector");
  }
  return se;
}

VirtualService parseVirtualService(YamlReader& root, ObjectMeta meta) {
  VirtualService vs;
  vs.meta = std::move(meta);
  YamlReader spec = root.child("spec");
  vs.hosts = spec.strings("hosts");
  if (vs.hosts.empty()) spec.ctx().error(spec.mark(), "spec.hosts", "needs at least one host");
  vs.gateways = spec.strings("gateways");
  for (auto& h : spec.list("http")) vs.http.push_back(parseHttpRoute(h));
  for (auto& t : spec.list("tcp")) {
    TcpRoute tr;
    for (auto& m : t.list("match")) {
      if (auto p = m.port("port")) tr.match_ports.push_back(*p);
      m.unsupported({"destinationSubnets", "sourceLabels", "gateways", "sourceNamespace"});
      m.done();
    }
    for (auto& d : t.list("route")) tr.route.push_back(parseRouteDestination(d));
    t.done();
    vs.tcp.push_back(std::move(tr));
  }
  spec.unsupported({"tls", "exportTo"});
  spec.done();
  return vs;
}

DestinationRule parseDestinationRule(YamlReader& root, ObjectMeta meta) {
  DestinationRule dr;
  dr.meta = std::move(meta);
  YamlReader spec = root.child("spec");
  dr.host = spec.requiredStr("host");
  if (spec.has("trafficPolicy")) dr.traffic_policy = parseTrafficPolicy(spec.child("trafficPolicy"));
  for (auto& s : spec.list("subsets")) {
    DestinationRule::Subset sub;
    sub.name = s.requiredStr("name");
    sub.labels = s.stringMap("labels");
    if (s.has("trafficPolicy")) sub.traffic_policy = parseTrafficPolicy(s.child("trafficPolicy"));
    s.done();
    dr.subsets.push_back(std::move(sub));
  }
  spec.unsupported({"exportTo", "workloadSelector"});
  spec.done();
  return dr;
}

AuthorizationPolicy parseAuthorizationPolicy(YamlReader& root, ObjectMeta meta) {
  AuthorizationPolicy ap;
  ap.meta = std::move(meta);
  YamlReader spec = root.child("spec");
  if (spec.has("selector")) ap.selector = matchLabels(spec.child("selector"), ap.has_selector);
  auto readRef = [&](YamlReader r) {
    PolicyTargetRef ref;
    ref.group = r.str("group");
    ref.kind = r.requiredStr("kind");
    ref.name = r.requiredStr("name");
    ref.ns = r.str("namespace");
    r.done();
    ap.target_refs.push_back(ref);
  };
  if (spec.has("targetRef")) readRef(spec.child("targetRef"));
  for (auto& r : spec.list("targetRefs")) readRef(r);
  if (ap.has_selector && !ap.target_refs.empty()) {
    spec.ctx().error(spec.mark(), "spec.selector", "selector and targetRefs cannot both be set");
  }
  ap.action = spec.enumValue("action", {"ALLOW", "DENY", "AUDIT", "CUSTOM"}, "ALLOW");
  ap.rules_set = spec.has("rules");
  for (auto& rule : spec.list("rules")) {
    AuthzRule ar;
    for (auto& f : rule.list("from")) {
      YamlReader s = f.child("source");
      AuthzSource src;
      src.principals = s.strings("principals");
      src.not_principals = s.strings("notPrincipals");
      src.request_principals = s.strings("requestPrincipals");
      src.not_request_principals = s.strings("notRequestPrincipals");
      src.namespaces = s.strings("namespaces");
      src.not_namespaces = s.strings("notNamespaces");
      src.service_accounts = s.strings("serviceAccounts");
      src.not_service_accounts = s.strings("notServiceAccounts");
      src.ip_blocks = checkedBlocks(s, "ipBlocks");
      src.not_ip_blocks = checkedBlocks(s, "notIpBlocks");
      src.remote_ip_blocks = checkedBlocks(s, "remoteIpBlocks");
      src.not_remote_ip_blocks = checkedBlocks(s, "notRemoteIpBlocks");
      s.done();
      f.done();
      ar.from.push_back(std::move(src));
    }
    for (auto& t : rule.list("to")) {
      YamlReader o = t.child("operation");
      AuthzOperation op;
      op.hosts = o.strings("hosts");
      op.not_hosts = o.strings("notHosts");
      op.ports = checkedPorts(o, "ports");
      op.not_ports = checkedPorts(o, "notPorts");
      op.methods = o.strings("methods");
      op.not_methods = o.strings("notMethods");
      op.paths = o.strings("paths");
      op.not_paths = o.strings("notPaths");
      o.done();
      t.done();
      ar.to.push_back(std::move(op));
    }
    for (auto& w : rule.list("when")) {
      AuthzCondition c;
      c.key = w.requiredStr("key");
      c.values = w.strings("values");
      c.not_values = w.strings("notValues");
      w.done();
      ar.when.push_back(std::move(c));
    }
    rule.done();
    ap.rules.push_back(std::move(ar));
  }
  spec.unsupported({"provider"});
  spec.done();
  return ap;
}

PeerAuthentication parsePeerAuthentication(YamlReader& root, ObjectMeta meta) {
  PeerAuthentication pa;
  pa.meta = std::move(meta);
  YamlReader spec = root.child("spec");
  static const std::vector<std::string> kModes = {"UNSET", "DISABLE", "PERMISSIVE", "STRICT"};
  if (spec.has("selector")) pa.selector = matchLabels(spec.child("selector"), pa.has_selector);
  if (spec.has("mtls")) {
    YamlReader m = spec.child("mtls");
    pa.mode = m.enumValue("mode", kModes, "UNSET");
    m.done();
  }
  for (auto& [port, r] : spec.mapOfObjects("portLevelMtls")) {
    std::string mode = r.enumValue("mode", kModes, "UNSET");
    r.done();
    auto n = parsePortNumber(port);
    if (!n) {
      r.ctx().error(r.mark(), r.path(), fmt::format("'{}' is not a port number", port));
      continue;
    }
    pa.port_modes[*n] = mode;
  }
  if (!pa.port_modes.empty() && !pa.has_selector) {
    spec.ctx().error(spec.mark(), "spec.portLevelMtls", "portLevelMtls needs a selector (Istio rejects it otherwise)");
  }
  spec.done();
  return pa;
}

}  // namespace ambit::controlplane
