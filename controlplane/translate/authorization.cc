// AuthorizationPolicy and PeerAuthentication -> Authorization, with Istio's
// ambient semantics for what an L4 proxy can enforce.
#include <fmt/format.h>

#include "controlplane/model/parse.h"
#include "controlplane/translate/translate_internal.h"

namespace ambit::controlplane {

namespace sec = istio::security;

namespace {

// Istio's string matching: "*" = present, "abc*" = prefix, "*abc" = suffix.
void setStringMatch(sec::StringMatch* m, std::string v, bool strip_spiffe) {
  if (strip_spiffe && v.rfind("spiffe://", 0) == 0) v = v.substr(9);
  if (v == "*") {
    m->mutable_presence();
  } else if (v.size() > 1 && v.back() == '*') {
    m->set_prefix(v.substr(0, v.size() - 1));
  } else if (v.size() > 1 && v.front() == '*') {
    m->set_suffix(v.substr(1));
  } else {
    m->set_exact(v);
  }
}

void addStrings(google::protobuf::RepeatedPtrField<sec::StringMatch>* out, const std::vector<std::string>& values,
                bool strip_spiffe = false) {
  for (const auto& v : values) setStringMatch(out->Add(), v, strip_spiffe);
}

void addAddresses(google::protobuf::RepeatedPtrField<sec::Address>* out, const std::vector<std::string>& blocks) {
  for (const auto& b : blocks) {
    auto slash = b.find('/');
    std::string ip = b.substr(0, slash);
    std::string bytes = ipBytes(ip);
    if (bytes.empty()) continue;  // the parser already rejected it
    auto* a = out->Add();
    a->set_address(bytes);
    uint32_t len = static_cast<uint32_t>(bytes.size() * 8);
    if (slash != std::string::npos) len = static_cast<uint32_t>(std::stoul(b.substr(slash + 1)));
    a->set_length(len);
  }
}

void addPorts(google::protobuf::RepeatedField<uint32_t>* out, const std::vector<std::string>& ports) {
  for (const auto& p : ports) {
    if (auto n = parsePortNumber(p)) out->Add(*n);  // the parser already rejected the rest
  }
}

// "ns/sa" or "sa" (the policy's own namespace).
void addServiceAccounts(google::protobuf::RepeatedPtrField<sec::ServiceAccountMatch>* out,
                        const std::vector<std::string>& values, const std::string& policy_ns) {
  for (const auto& v : values) {
    auto* m = out->Add();
    auto slash = v.find('/');
    m->set_namespace_(slash == std::string::npos ? policy_ns : v.substr(0, slash));
    m->set_serviceaccount(slash == std::string::npos ? v : v.substr(slash + 1));
  }
}

bool isL4ConditionKey(const std::string& key) {
  return key == "source.ip" || key == "source.namespace" || key == "source.principal" || key == "destination.ip" ||
         key == "destination.port" || key == "remote.ip";
}

// The L7 parts of a rule: what an L4 proxy cannot see.
std::vector<std::string> l7Fields(const AuthzRule& r) {
  std::vector<std::string> out;
  for (const auto& s : r.from) {
    if (!s.request_principals.empty()) out.push_back("requestPrincipals");
    if (!s.not_request_principals.empty()) out.push_back("notRequestPrincipals");
  }
  for (const auto& o : r.to) {
    if (!o.hosts.empty()) out.push_back("hosts");
    if (!o.not_hosts.empty()) out.push_back("notHosts");
    if (!o.methods.empty()) out.push_back("methods");
    if (!o.not_methods.empty()) out.push_back("notMethods");
    if (!o.paths.empty()) out.push_back("paths");
    if (!o.not_paths.empty()) out.push_back("notPaths");
  }
  for (const auto& c : r.when) {
    if (!isL4ConditionKey(c.key)) out.push_back("when " + c.key);
  }
  return out;
}

sec::Match sourceMatch(const AuthzSource& s, const std::string& policy_ns) {
  sec::Match m;
  addStrings(m.mutable_principals(), s.principals, true);
  addStrings(m.mutable_not_principals(), s.not_principals, true);
  addStrings(m.mutable_namespaces(), s.namespaces);
  addStrings(m.mutable_not_namespaces(), s.not_namespaces);
  addServiceAccounts(m.mutable_service_accounts(), s.service_accounts, policy_ns);
  addServiceAccounts(m.mutable_not_service_accounts(), s.not_service_accounts, policy_ns);
  // At L4 the remote address is the connection's source address.
  addAddresses(m.mutable_source_ips(), s.ip_blocks);
  addAddresses(m.mutable_source_ips(), s.remote_ip_blocks);
  addAddresses(m.mutable_not_source_ips(), s.not_ip_blocks);
  addAddresses(m.mutable_not_source_ips(), s.not_remote_ip_blocks);
  return m;
}

sec::Match conditionMatch(const AuthzCondition& c) {
  sec::Match m;
  if (c.key == "source.ip" || c.key == "remote.ip") {
    addAddresses(m.mutable_source_ips(), c.values);
    addAddresses(m.mutable_not_source_ips(), c.not_values);
  } else if (c.key == "source.namespace") {
    addStrings(m.mutable_namespaces(), c.values);
    addStrings(m.mutable_not_namespaces(), c.not_values);
  } else if (c.key == "source.principal") {
    addStrings(m.mutable_principals(), c.values, true);
    addStrings(m.mutable_not_principals(), c.not_values, true);
  } else if (c.key == "destination.ip") {
    addAddresses(m.mutable_destination_ips(), c.values);
    addAddresses(m.mutable_not_destination_ips(), c.not_values);
  } else if (c.key == "destination.port") {
    addPorts(m.mutable_destination_ports(), c.values);
    addPorts(m.mutable_not_destination_ports(), c.not_values);
  }
  return m;
}

std::string joinFields(const std::vector<std::string>& f) {
  std::string out;
  for (const auto& s : f) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// CUSTOM (external authorization) is not supported: warns, and says so.
bool unsupportedCustom(const AuthorizationPolicy& ap, const std::string& id, std::vector<std::string>& warnings) {
  if (ap.action != "CUSTOM") return false;
  warnings.push_back(fmt::format("AuthorizationPolicy {}: action CUSTOM (external authorization) is not "
                                 "supported by Ambit; the policy is not enforced",
                                 id));
  return true;
}

// Istio's dry-run annotation: evaluated and logged, not enforced.
bool dryRun(const AuthorizationPolicy& ap) {
  auto it = ap.meta.annotations.find("istio.io/dry-run");
  return it != ap.meta.annotations.end() && it->second == "true";
}

}  // namespace

std::optional<sec::Authorization> translatePolicy(const AuthorizationPolicy& ap, const MeshSettings& mesh,
                                                  std::vector<std::string>& warnings) {
  const std::string id = ap.meta.ns + "/" + ap.meta.name;
  if (!ap.target_refs.empty()) return std::nullopt;  // enforced by the waypoint it targets
  if (ap.action == "AUDIT") return std::nullopt;
  if (unsupportedCustom(ap, id, warnings)) return std::nullopt;
  sec::Authorization a;
  a.set_name(ap.meta.name);
  a.set_namespace_(ap.meta.ns);
  if (ap.has_selector) a.set_scope(sec::WORKLOAD_SELECTOR);
  else if (ap.meta.ns == mesh.root_namespace) a.set_scope(sec::GLOBAL);
  else a.set_scope(sec::NAMESPACE);
  bool deny = ap.action == "DENY";
  a.set_action(deny ? sec::DENY : sec::ALLOW);
  if (dryRun(ap)) a.set_dry_run(true);

  for (std::size_t i = 0; i < ap.rules.size(); ++i) {
    const AuthzRule& rule = ap.rules[i];
    auto l7 = l7Fields(rule);
    if (!l7.empty() && !deny) {
      // ztunnel cannot check these, so the rule must not allow anything here.
      warnings.push_back(fmt::format("AuthorizationPolicy {} rule {}: ALLOW rule uses L7 fields ({}); ztunnel "
                                     "cannot see them, so the rule matches nothing here (use a waypoint and "
                                     "targetRefs to enforce it)",
                                     id, i, joinFields(l7)));
      continue;
    }
    if (!l7.empty()) {
      warnings.push_back(fmt::format("AuthorizationPolicy {} rule {}: DENY rule uses L7 fields ({}); ztunnel "
                                     "ignores them and denies on the rest of the rule (wider than written)",
                                     id, i, joinFields(l7)));
    }
    sec::Group* g = a.add_groups();
    if (!rule.from.empty()) {
      auto* rules = g->add_rules();
      for (const auto& s : rule.from) *rules->add_matches() = sourceMatch(s, ap.meta.ns);
    }
    if (!rule.to.empty()) {
      auto* rules = g->add_rules();
      for (const auto& o : rule.to) {
        sec::Match* m = rules->add_matches();
        addPorts(m->mutable_destination_ports(), o.ports);
        addPorts(m->mutable_not_destination_ports(), o.not_ports);
      }
    }
    for (const auto& c : rule.when) {
      if (!isL4ConditionKey(c.key)) continue;
      *g->add_rules()->add_matches() = conditionMatch(c);
    }
  }
  return a;
}

std::string peerAuthenticationPolicyName(const std::map<uint16_t, std::string>& modes) {
  bool default_strict = modes.at(0) == "STRICT";
  std::string exceptions;
  for (const auto& [port, mode] : modes) {
    if (port == 0 || (mode == "STRICT") == default_strict) continue;
    exceptions += "-" + std::to_string(port);
  }
  if (default_strict) return exceptions.empty() ? "ambit-peer-authn-strict" : "ambit-peer-authn-strict-except" + exceptions;
  return exceptions.empty() ? "" : "ambit-peer-authn-strict-ports" + exceptions;
}

namespace {

// STRICT = deny any connection without a peer principal (plaintext), on the
// ports where the workload's effective mode is STRICT.
sec::Authorization peerAuthenticationPolicy(const std::string& ns, const std::string& name,
                                            const std::map<uint16_t, std::string>& modes) {
  sec::Authorization a;
  a.set_name(name);
  a.set_namespace_(ns);
  a.set_scope(sec::WORKLOAD_SELECTOR);
  a.set_action(sec::DENY);
  sec::Group* g = a.add_groups();
  g->add_rules()->add_matches()->add_not_principals()->mutable_presence();
  bool default_strict = modes.at(0) == "STRICT";
  sec::Match ports;
  for (const auto& [port, mode] : modes) {
    if (port == 0 || (mode == "STRICT") == default_strict) continue;
    if (default_strict) ports.add_not_destination_ports(port);
    else ports.add_destination_ports(port);
  }
  if (ports.destination_ports_size() || ports.not_destination_ports_size()) *g->add_rules()->add_matches() = ports;
  return a;
}

bool enforcedByZtunnel(const AuthorizationPolicy& ap) {
  return ap.target_refs.empty() && (ap.action == "ALLOW" || ap.action == "DENY");
}

}  // namespace

void attachPolicies(TranslateContext& ctx, const Pod& pod, istio::workload::Workload& w) {
  std::vector<std::string> names;
  for (const std::string& ns : {pod.meta.ns, ctx.mesh.root_namespace}) {
    for (const auto& [key, ap] : inNamespace(ctx.snap.authorization_policies, ns)) {
      if (!ap->has_selector || !enforcedByZtunnel(*ap)) continue;
      if (selects(ap->selector, pod.meta.labels)) names.push_back(key);
    }
    if (pod.meta.ns == ctx.mesh.root_namespace) break;
  }
  auto modes = effectiveMtls(ctx.snap, ctx.mesh, pod);
  std::string pa = peerAuthenticationPolicyName(modes);
  if (!pa.empty()) {
    std::string key = pod.meta.ns + "/" + pa;
    names.push_back(key);
    ctx.peer_policies.emplace(key, std::make_pair(pod.meta.ns, modes));
  }
  std::sort(names.begin(), names.end());
  for (auto& n : names) w.add_authorization_policies(n);
}

std::optional<ambit::authz::v1::HttpPolicy> translateHttpPolicy(const AuthorizationPolicy& ap,
                                                                std::vector<std::string>& warnings) {
  namespace av1 = ambit::authz::v1;
  if (ap.target_refs.empty()) return std::nullopt;
  const std::string id = ap.meta.ns + "/" + ap.meta.name;
  if (unsupportedCustom(ap, id, warnings)) return std::nullopt;
  av1::HttpPolicy p;
  p.set_namespace_(ap.meta.ns);
  p.set_name(ap.meta.name);
  p.set_action(ap.action == "DENY"    ? av1::HttpPolicy::DENY
               : ap.action == "AUDIT" ? av1::HttpPolicy::AUDIT
                                      : av1::HttpPolicy::ALLOW);
  if (dryRun(ap)) p.set_dry_run(true);
  for (const auto& t : ap.target_refs) {
    bool gateway = t.kind == "Gateway" && (t.group.empty() || t.group == "gateway.networking.k8s.io");
    bool service = t.kind == "Service" && (t.group.empty() || t.group == "core");
    if (!gateway && !service) {
      warnings.push_back(
          fmt::format("AuthorizationPolicy {}: targetRef {} {} is not a Gateway or a Service; "
                      "Ambit's waypoints ignore it",
                      id, t.kind, t.name));
      continue;
    }
    auto* target = p.add_targets();
    target->set_kind(t.kind);
    target->set_namespace_(t.ns.empty() ? ap.meta.ns : t.ns);
    target->set_name(t.name);
  }
  if (p.targets().empty()) return std::nullopt;
  auto copy = [](const std::vector<std::string>& in, google::protobuf::RepeatedPtrField<std::string>* out) {
    for (const auto& v : in) out->Add(std::string(v));
  };
  for (const auto& rule : ap.rules) {
    auto* r = p.add_rules();
    for (const auto& f : rule.from) {
      auto* s = r->add_from();
      copy(f.principals, s->mutable_principals());
      copy(f.not_principals, s->mutable_not_principals());
      // serviceAccounts "ns/name" (or "name" in the policy's namespace) are
      // principals in any trust domain.
      auto sa = [&](const std::string& v) {
        auto slash = v.find('/');
        std::string ns = slash == std::string::npos ? ap.meta.ns : v.substr(0, slash);
        std::string name = slash == std::string::npos ? v : v.substr(slash + 1);
        return "*/ns/" + ns + "/sa/" + name;
      };
      for (const auto& v : f.service_accounts) s->add_principals(sa(v));
      for (const auto& v : f.not_service_accounts) s->add_not_principals(sa(v));
      copy(f.namespaces, s->mutable_namespaces());
      copy(f.not_namespaces, s->mutable_not_namespaces());
      copy(f.ip_blocks, s->mutable_ip_blocks());
      copy(f.not_ip_blocks, s->mutable_not_ip_blocks());
      copy(f.remote_ip_blocks, s->mutable_remote_ip_blocks());
      copy(f.not_remote_ip_blocks, s->mutable_not_remote_ip_blocks());
      copy(f.request_principals, s->mutable_request_principals());
      copy(f.not_request_principals, s->mutable_not_request_principals());
    }
    for (const auto& t : rule.to) {
      auto* o = r->add_to();
      copy(t.hosts, o->mutable_hosts());
      copy(t.not_hosts, o->mutable_not_hosts());
      copy(t.ports, o->mutable_ports());
      copy(t.not_ports, o->mutable_not_ports());
      copy(t.methods, o->mutable_methods());
      copy(t.not_methods, o->mutable_not_methods());
      copy(t.paths, o->mutable_paths());
      copy(t.not_paths, o->mutable_not_paths());
    }
    for (const auto& c : rule.when) {
      auto* w = r->add_when();
      w->set_key(c.key);
      copy(c.values, w->mutable_values());
      copy(c.not_values, w->mutable_not_values());
    }
  }
  return p;
}

void translateAuthorization(TranslateContext& ctx, Translated& out) {
  for (const auto& [key, ap] : ctx.snap.authorization_policies) {
    if (auto a = translatePolicy(*ap, ctx.mesh, out.warnings)) out.authorizations[key] = std::move(*a);
    if (auto h = translateHttpPolicy(*ap, out.warnings)) out.http_policies[key] = std::move(*h);
  }
  for (const auto& [key, entry] : ctx.peer_policies) {
    const auto& [ns, modes] = entry;
    out.authorizations[key] = peerAuthenticationPolicy(ns, key.substr(ns.size() + 1), modes);
  }
}

}  // namespace ambit::controlplane
