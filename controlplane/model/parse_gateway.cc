// gateway.networking.k8s.io kinds: Gateway (waypoints) and HTTPRoute.
#include "controlplane/model/parse.h"

namespace ambit::controlplane {
namespace {

StringMatch gatewayMatch(YamlReader& r, const std::string& default_type) {
  std::string type = r.enumValue("type", {"Exact", "PathPrefix", "RegularExpression"}, default_type);
  StringMatch m;
  m.value = r.str("value");
  if (type == "PathPrefix") m.kind = StringMatch::Kind::kPrefix;
  else if (type == "RegularExpression") m.kind = StringMatch::Kind::kRegex;
  else m.kind = StringMatch::Kind::kExact;
  return m;
}

BackendRef parseBackendRef(YamlReader r, bool with_weight) {
  BackendRef b;
  b.group = r.str("group");
  b.kind = r.str("kind", "Service");
  b.name = r.requiredStr("name");
  b.ns = r.str("namespace");
  b.port = r.port("port");
  if (with_weight) b.weight = static_cast<int32_t>(r.integer("weight", 0, 1000000).value_or(1));
  if (with_weight) r.unsupported({"filters"});
  r.done();
  return b;
}

HeaderOps headerModifier(YamlReader r) {
  HeaderOps h;
  auto pairs = [&](const std::string& key, std::map<std::string, std::string>& out) {
    for (auto& kv : r.list(key)) {
      out[kv.requiredStr("name")] = kv.str("value");
      kv.done();
    }
  };
  pairs("set", h.set);
  pairs("add", h.add);
  h.remove = r.strings("remove");
  r.done();
  return h;
}

}  // namespace

Gateway parseGateway(YamlReader& root, ObjectMeta meta) {
  Gateway g;
  g.meta = std::move(meta);
  YamlReader spec = root.child("spec");
  g.class_name = spec.requiredStr("gatewayClassName");
  for (auto& l : spec.list("listeners")) {
    Gateway::Listener listener;
    listener.name = l.requiredStr("name");
    listener.port = l.port("port").value_or(0);
    listener.protocol = l.requiredStr("protocol");
    listener.hostname = l.str("hostname");
    l.unsupported({"tls", "allowedRoutes"});
    l.done();
    g.listeners.push_back(listener);
  }
  for (auto& a : spec.list("addresses")) {
    std::string v = a.requiredStr("value");
    a.str("type");
    a.done();
    g.addresses.push_back(v);
  }
  spec.unsupported({"infrastructure"});
  spec.done();
  return g;
}

HTTPRoute parseHttpRoute(YamlReader& root, ObjectMeta meta) {
  HTTPRoute route;
  route.meta = std::move(meta);
  YamlReader spec = root.child("spec");
  for (auto& p : spec.list("parentRefs")) {
    ParentRef ref;
    ref.group = p.str("group", "gateway.networking.k8s.io");
    ref.kind = p.str("kind", "Gateway");
    ref.name = p.requiredStr("name");
    ref.ns = p.str("namespace");
    ref.port = p.port("port");
    ref.section_name = p.str("sectionName");
    p.done();
    route.parents.push_back(ref);
  }
  route.hostnames = spec.strings("hostnames");
  for (auto& r : spec.list("rules")) {
    HttpRouteRule rule;
    for (auto& m : r.list("matches")) {
      HttpRouteMatch match;
      if (m.has("path")) {
        YamlReader p = m.child("path");
        match.path = gatewayMatch(p, "PathPrefix");
        p.done();
      }
      for (auto& h : m.list("headers")) {
        std::string name = h.requiredStr("name");
        match.headers.emplace_back(name, gatewayMatch(h, "Exact"));
        h.done();
      }
      for (auto& q : m.list("queryParams")) {
        std::string name = q.requiredStr("name");
        match.query_params.emplace_back(name, gatewayMatch(q, "Exact"));
        q.done();
      }
      match.method = m.str("method");
      m.done();
      rule.matches.push_back(std::move(match));
    }
    for (auto& b : r.list("backendRefs")) rule.backends.push_back(parseBackendRef(b, true));
    for (auto& f : r.list("filters")) {
      std::string type = f.requiredStr("type");
      if (type == "RequestHeaderModifier") {
        rule.request_headers = headerModifier(f.child("requestHeaderModifier"));
      } else if (type == "ResponseHeaderModifier") {
        rule.response_headers = headerModifier(f.child("responseHeaderModifier"));
      } else if (type == "RequestMirror") {
        YamlReader m = f.child("requestMirror");
        rule.mirror = parseBackendRef(m.child("backendRef"), false);
        m.unsupported({"percent", "fraction"});
        m.done();
      } else if (type == "URLRewrite") {
        YamlReader u = f.child("urlRewrite");
        rule.rewrite_hostname = u.str("hostname");
        if (u.has("path")) {
          YamlReader p = u.child("path");
          std::string ptype = p.enumValue("type", {"ReplaceFullPath", "ReplacePrefixMatch"}, "ReplacePrefixMatch");
          if (ptype == "ReplaceFullPath") rule.rewrite_full_path = p.str("replaceFullPath");
          else rule.rewrite_path_prefix = p.str("replacePrefixMatch");
          p.ignore({"replaceFullPath", "replacePrefixMatch"});
          p.done();
        }
        u.done();
      } else if (type == "RequestRedirect") {
        YamlReader rr = f.child("requestRedirect");
        HttpRouteRule::Redirect red;
        red.scheme = rr.str("scheme");
        red.hostname = rr.str("hostname");
        red.port = rr.port("port");
        red.status = static_cast<int32_t>(rr.integer("statusCode", 300, 399).value_or(302));
        if (rr.has("path")) {
          YamlReader p = rr.child("path");
          std::string ptype = p.enumValue("type", {"ReplaceFullPath", "ReplacePrefixMatch"}, "ReplaceFullPath");
          red.path_is_prefix = ptype == "ReplacePrefixMatch";
          red.path = red.path_is_prefix ? p.str("replacePrefixMatch") : p.str("replaceFullPath");
          p.ignore({"replaceFullPath", "replacePrefixMatch"});
          p.done();
        }
        rr.done();
        rule.redirect = red;
      } else {
        f.unsupported({"extensionRef", "cors"});
        f.error("type", fmt::format("filter type '{}' is not supported", type));
      }
      f.ignore({"requestHeaderModifier", "responseHeaderModifier", "requestMirror", "urlRewrite", "requestRedirect"});
      f.done();
    }
    if (r.has("timeouts")) {
      YamlReader t = r.child("timeouts");
      rule.timeout = t.duration("request");
      rule.backend_timeout = t.duration("backendRequest");
      t.done();
    }
    r.unsupported({"sessionPersistence", "retry", "name"});
    r.done();
    route.rules.push_back(std::move(rule));
  }
  spec.done();
  return route;
}

}  // namespace ambit::controlplane
