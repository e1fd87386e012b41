// Istio L4 authorization semantics (see engine.h).
#include "ztunnel/authz/engine.h"

#include <algorithm>
#include <cstring>

namespace ambit::ztunnel::authz {

namespace sec = istio::security;

namespace {

// ::ffff:a.b.c.d -> a.b.c.d, so a v4 policy holds on a dual-stack socket.
std::string normalize(const std::string& ip) {
  static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (ip.size() == 16 && std::memcmp(ip.data(), kMapped, 12) == 0) return ip.substr(12);
  return ip;
}

bool inBlock(const sec::Address& block, const std::string& raw_ip) {
  std::string ip = normalize(raw_ip);
  std::string net = normalize(block.address());
  if (ip.empty() || ip.size() != net.size()) return false;
  uint32_t bits = block.length();
  if (net.size() != block.address().size()) bits = bits >= 96 ? bits - 96 : 0;  // a v4-mapped block
  bits = std::min<uint32_t>(bits, static_cast<uint32_t>(ip.size() * 8));
  uint32_t full = bits / 8;
  if (std::memcmp(ip.data(), net.data(), full) != 0) return false;
  uint32_t rest = bits % 8;
  if (rest == 0) return true;
  unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (static_cast<unsigned char>(ip[full]) & mask) == (static_cast<unsigned char>(net[full]) & mask);
}

bool stringMatches(const sec::StringMatch& m, const std::string& v) {
  switch (m.match_type_case()) {
    case sec::StringMatch::kExact: return v == m.exact();
    case sec::StringMatch::kPrefix: return v.starts_with(m.prefix());
    case sec::StringMatch::kSuffix: return v.ends_with(m.suffix());
    case sec::StringMatch::kPresence: return !v.empty();
    case sec::StringMatch::MATCH_TYPE_NOT_SET: return false;
  }
  return false;
}

// A positive list holds when empty or when it contains the value; a negative
// list holds when empty or when it does not. An absent value is in no list.
template <typename List, typename Pred>
bool field(const List& positive, const List& negative, bool present, Pred contains) {
  if (!positive.empty()) {
    if (!present) return false;
    if (std::none_of(positive.begin(), positive.end(), contains)) return false;
  }
  if (!negative.empty() && present) {
    if (std::any_of(negative.begin(), negative.end(), contains)) return false;
  }
  return true;
}

// Istio principals are written without the scheme: "cluster.local/ns/demo/sa/client".
// Built once per decision, not once per match; "" without an identity.
std::string principalFor(const Connection& c) {
  if (!c.source) return {};
  return c.source->trust_domain + "/ns/" + c.source->ns + "/sa/" + c.source->service_account;
}

// The identity lambdas run only when there is an identity (see field()).
bool matchesWith(const sec::Match& m, const Connection& c, const std::string& principal) {
  bool has_id = c.source.has_value();
  auto principal_is = [&](const sec::StringMatch& s) { return stringMatches(s, principal); };
  auto ns_is = [&](const sec::StringMatch& s) { return stringMatches(s, c.source->ns); };
  auto sa_is = [&](const sec::ServiceAccountMatch& s) {
    return s.namespace_() == c.source->ns && s.serviceaccount() == c.source->service_account;
  };
  auto src_in = [&](const sec::Address& a) { return inBlock(a, c.source_ip); };
  auto dst_in = [&](const sec::Address& a) { return inBlock(a, c.destination_ip); };
  auto port_is = [&](uint32_t p) { return p == c.destination_port; };
  return field(m.principals(), m.not_principals(), has_id, principal_is) &&
         field(m.namespaces(), m.not_namespaces(), has_id, ns_is) &&
         field(m.service_accounts(), m.not_service_accounts(), has_id, sa_is) &&
         field(m.source_ips(), m.not_source_ips(), !c.source_ip.empty(), src_in) &&
         field(m.destination_ips(), m.not_destination_ips(), !c.destination_ip.empty(), dst_in) &&
         field(m.destination_ports(), m.not_destination_ports(), true, port_is);
}

bool policyMatches(const sec::Authorization& policy, const Connection& c, const std::string& principal) {
  return std::any_of(policy.groups().begin(), policy.groups().end(), [&](const sec::Group& g) {
    return std::all_of(g.rules().begin(), g.rules().end(), [&](const sec::Rules& r) {
      return std::any_of(r.matches().begin(), r.matches().end(),
                         [&](const sec::Match& m) { return matchesWith(m, c, principal); });
    });
  });
}

}  // namespace

bool matches(const sec::Match& m, const Connection& c) { return matchesWith(m, c, principalFor(c)); }

bool matches(const sec::Authorization& policy, const Connection& c) { return policyMatches(policy, c, principalFor(c)); }

namespace {

Decision decideWith(const std::vector<PolicyPtr>& policies, const Connection& c, const std::string& principal,
                    bool include_dry_run) {
  Decision d;
  auto name = [](const sec::Authorization& p) { return p.namespace_() + "/" + p.name(); };
  auto counts = [&](const sec::Authorization& p) { return include_dry_run || !p.dry_run(); };
  for (const auto& p : policies) {  // any DENY first
    if (p->action() == sec::DENY && counts(*p) && policyMatches(*p, c, principal)) {
      d.allowed = false;
      d.policy = name(*p);
      d.reason = "denied by policy " + d.policy;
      return d;
    }
  }
  bool any_allow = false;
  for (const auto& p : policies) {
    if (p->action() != sec::ALLOW || !counts(*p)) continue;
    any_allow = true;
    if (policyMatches(*p, c, principal)) {
      d.policy = name(*p);
      d.reason = "allowed by policy " + d.policy;
      return d;
    }
  }
  if (!any_allow) {
    d.reason = "no ALLOW policy applies";
    return d;
  }
  d.allowed = false;
  d.reason = "no ALLOW policy matched";
  return d;
}

}  // namespace

Decision decide(const std::vector<PolicyPtr>& policies, const Connection& c) {
  const std::string principal = principalFor(c);
  Decision d = decideWith(policies, c, principal, false);
  if (std::any_of(policies.begin(), policies.end(), [](const PolicyPtr& p) { return p->dry_run(); })) {
    Decision shadow = decideWith(policies, c, principal, true);
    d.dry_run_allowed = shadow.allowed;
    d.dry_run_reason = shadow.reason;
  }
  return d;
}

PolicySet::PolicySet(std::map<std::string, PolicyPtr> by_name) : by_name_(std::move(by_name)) {
  for (const auto& [key, p] : by_name_) {
    if (p->scope() == sec::GLOBAL) global_.push_back(p);
    else if (p->scope() == sec::NAMESPACE) by_namespace_[p->namespace_()].push_back(p);
  }
}

std::vector<PolicyPtr> PolicySet::applicable(const istio::workload::Workload& dst) const {
  std::vector<PolicyPtr> out = global_;
  if (auto it = by_namespace_.find(dst.namespace_()); it != by_namespace_.end()) {
    out.insert(out.end(), it->second.begin(), it->second.end());
  }
  for (const auto& name : dst.authorization_policies()) {
    auto it = by_name_.find(name);
    // A selector policy from another namespace than the workload's or the root's cannot apply.
    if (it != by_name_.end() && it->second->scope() == sec::WORKLOAD_SELECTOR) out.push_back(it->second);
  }
  return out;
}

}  // namespace ambit::ztunnel::authz
