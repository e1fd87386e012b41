#include "waypoint/authz/http_authz.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>

#include "common/base/ascii.h"

namespace ambit::waypoint::authz {

namespace {

// What one rule field sees: a value (or several, for a repeated header).
enum class Mode { kDeny, kAllow };

bool anyPattern(const google::protobuf::RepeatedPtrField<std::string>& patterns, std::string_view value,
                bool ignore_case = false) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& p) { return patternMatches(p, value, ignore_case); });
}

// A positive list must contain the value (empty = no condition); a negative
// list must not.
bool field(const google::protobuf::RepeatedPtrField<std::string>& in,
           const google::protobuf::RepeatedPtrField<std::string>& not_in, std::string_view value,
           bool ignore_case = false) {
  if (!in.empty() && !anyPattern(in, value, ignore_case)) return false;
  if (!not_in.empty() && anyPattern(not_in, value, ignore_case)) return false;
  return true;
}

bool ipField(const google::protobuf::RepeatedPtrField<std::string>& in,
             const google::protobuf::RepeatedPtrField<std::string>& not_in, std::string_view ip) {
  auto hit = [&](const auto& list) {
    return std::any_of(list.begin(), list.end(), [&](const std::string& b) { return ipInBlock(b, ip); });
  };
  if (!in.empty() && !hit(in)) return false;
  if (!not_in.empty() && hit(not_in)) return false;
  return true;
}

bool sourceMatches(const av1::Source& s, const RequestAttributes& r, Mode mode) {
  if (!s.request_principals().empty() || !s.not_request_principals().empty()) {
    if (mode == Mode::kAllow) return false;  // cannot be checked: never grants
  }
  if (!s.principals().empty() || !s.not_principals().empty()) {
    if (!r.principal) {
      // No peer identity: a principal list cannot hold; a not-list alone does.
      if (!s.principals().empty()) return false;
    } else if (!field(s.principals(), s.not_principals(), *r.principal)) {
      return false;
    }
  }
  if (!s.namespaces().empty() || !s.not_namespaces().empty()) {
    if (!r.principal) {
      if (!s.namespaces().empty()) return false;
    } else if (!field(s.namespaces(), s.not_namespaces(), r.source_namespace)) {
      return false;
    }
  }
  if (!ipField(s.ip_blocks(), s.not_ip_blocks(), r.source_ip)) return false;
  if (!ipField(s.remote_ip_blocks(), s.not_remote_ip_blocks(), r.remote_ip.empty() ? r.source_ip : r.remote_ip)) {
    return false;
  }
  return true;
}

bool operationMatches(const av1::Operation& o, const RequestAttributes& r) {
  if (r.l4_only) {
    // ALLOW rules with HTTP fields never get here (ruleMatches); DENY: the L4 part alone.
    return field(o.ports(), o.not_ports(), std::to_string(r.port));
  }
  // Istio matches hosts against the authority with its port ("x.com:*") and
  // without it ("x.com"): either form counts.
  auto hostHit = [&](const google::protobuf::RepeatedPtrField<std::string>& list) {
    return anyPattern(list, r.host, true) || (!r.authority.empty() && anyPattern(list, r.authority, true));
  };
  if (!o.hosts().empty() && !hostHit(o.hosts())) return false;
  if (!o.not_hosts().empty() && hostHit(o.not_hosts())) return false;
  if (!field(o.ports(), o.not_ports(), std::to_string(r.port))) return false;
  if (!field(o.methods(), o.not_methods(), r.method)) return false;
  if (!field(o.paths(), o.not_paths(), r.path)) return false;
  return true;
}

// Values of request header `name` (lower-case).
std::vector<std::string_view> headerValues(const RequestAttributes& r, const std::string& name) {
  std::vector<std::string_view> out;
  if (r.headers == nullptr) return out;
  for (const auto& h : *r.headers) {
    if (h.name == name) out.push_back(h.value);
  }
  return out;
}

bool listHolds(const av1::Condition& c, std::string_view v) {
  if (!c.values().empty() && !anyPattern(c.values(), v)) return false;
  if (!c.not_values().empty() && anyPattern(c.not_values(), v)) return false;
  return true;
}

// nullopt: a key the waypoint cannot evaluate.
std::optional<bool> conditionHolds(const av1::Condition& c, const RequestAttributes& r, Mode mode) {
  const std::string& key = c.key();
  static constexpr std::string_view kHeader = "request.headers[";
  if (key.rfind(kHeader, 0) == 0 && r.l4_only) return std::nullopt;  // no request: ALLOW never, DENY without it
  if (key.rfind(kHeader, 0) == 0 && key.size() > kHeader.size() + 1 && key.back() == ']') {
    std::string name = asciiLowered(std::string_view(key).substr(kHeader.size(), key.size() - kHeader.size() - 1));
    auto values = headerValues(r, name);
    if (values.empty()) return c.values().empty();  // absent: only a not_values-only condition holds
    std::string joined;
    for (std::size_t i = 0; i < values.size(); ++i) joined += (i ? "," : "") + std::string(values[i]);
    if (mode == Mode::kDeny) {
      if (listHolds(c, joined)) return true;
      // Each value, and each element of a comma-separated value ("alice, mallory"),
      // since a backend may read the list either way.
      for (std::string_view v : values) {
        if (listHolds(c, v)) return true;
        if (v.find(',') != std::string_view::npos &&
            anyListItem(v, [&](std::string_view item) { return listHolds(c, item); })) {
          return true;
        }
      }
      return false;
    }
    return std::all_of(values.begin(), values.end(), [&](std::string_view v) { return listHolds(c, v); });
  }
  auto ipCond = [&](std::string_view ip) {
    return ipField(c.values(), c.not_values(), ip);
  };
  if (key == "source.ip") return ipCond(r.source_ip);
  if (key == "remote.ip") return ipCond(r.remote_ip.empty() ? r.source_ip : r.remote_ip);
  if (key == "destination.ip") return ipCond(r.destination_ip);
  if (key == "destination.port") return listHolds(c, std::to_string(r.port));
  // No peer identity: a values list cannot hold; a notValues-only one does.
  if (key == "source.namespace") return r.principal ? listHolds(c, r.source_namespace) : c.values().empty();
  if (key == "source.principal") return r.principal ? listHolds(c, *r.principal) : c.values().empty();
  return std::nullopt;
}

// Does any part of the rule need an HTTP request (fields a TCP connection lacks)?
bool namesHttpFields(const av1::Rule& rule) {
  for (const auto& s : rule.from()) {
    if (!s.request_principals().empty() || !s.not_request_principals().empty()) return true;
  }
  for (const auto& o : rule.to()) {
    if (!o.hosts().empty() || !o.not_hosts().empty() || !o.methods().empty() || !o.not_methods().empty() ||
        !o.paths().empty() || !o.not_paths().empty()) {
      return true;
    }
  }
  for (const auto& c : rule.when()) {
    if (c.key().rfind("request.", 0) == 0) return true;
  }
  return false;
}

bool ruleMatches(const av1::Rule& rule, const RequestAttributes& r, Mode mode) {
  // Istio builds no TCP rule from an ALLOW rule with an HTTP-only field
  // anywhere in it (not only in the part that names it).
  if (r.l4_only && mode == Mode::kAllow && namesHttpFields(rule)) return false;
  if (!rule.from().empty() &&
      std::none_of(rule.from().begin(), rule.from().end(), [&](const auto& s) { return sourceMatches(s, r, mode); })) {
    return false;
  }
  if (!rule.to().empty() &&
      std::none_of(rule.to().begin(), rule.to().end(), [&](const auto& o) { return operationMatches(o, r); })) {
    return false;
  }
  for (const auto& c : rule.when()) {
    auto holds = conditionHolds(c, r, mode);
    if (!holds) {
      if (mode == Mode::kAllow) return false;  // unknown key: never grants
      continue;                                // DENY: enforced without it
    }
    if (!*holds) return false;
  }
  return true;
}

bool policyMatches(const av1::HttpPolicy& p, const RequestAttributes& r) {
  Mode mode = p.action() == av1::HttpPolicy::DENY ? Mode::kDeny : Mode::kAllow;
  return std::any_of(p.rules().begin(), p.rules().end(), [&](const auto& rule) { return ruleMatches(rule, r, mode); });
}

std::string nameOf(const av1::HttpPolicy& p) { return p.namespace_() + "/" + p.name(); }

}  // namespace

bool patternMatches(std::string_view pattern, std::string_view value, bool ignore_case) {
  auto eq = [ignore_case](std::string_view a, std::string_view b) { return ignore_case ? equalsIgnoreCase(a, b) : a == b; };
  if (pattern == "*") return true;  // presence
  if (!pattern.empty() && pattern.back() == '*') {
    auto prefix = pattern.substr(0, pattern.size() - 1);
    return value.size() >= prefix.size() && eq(value.substr(0, prefix.size()), prefix);
  }
  if (!pattern.empty() && pattern.front() == '*') {
    auto suffix = pattern.substr(1);
    return value.size() >= suffix.size() && eq(value.substr(value.size() - suffix.size()), suffix);
  }
  return eq(pattern, value);
}

bool ipInBlock(std::string_view block, std::string_view ip) {
  std::string b(block), addr_text(ip);
  int prefix = -1;
  if (auto slash = b.find('/'); slash != std::string::npos) {
    auto bits_text = b.substr(slash + 1);
    if (bits_text.empty() || bits_text.size() > 3 || bits_text.find_first_not_of("0123456789") != std::string::npos) {
      return false;  // a malformed block matches nothing (never everything)
    }
    prefix = std::stoi(bits_text);
    b.resize(slash);
  }
  // An IPv4-mapped IPv6 source ("::ffff:198.18.0.1") is the IPv4 address.
  static constexpr std::string_view kMapped = "::ffff:";
  if (addr_text.size() > kMapped.size() && addr_text.find('.') != std::string::npos &&
      equalsIgnoreCase(std::string_view(addr_text).substr(0, kMapped.size()), kMapped)) {
    addr_text = addr_text.substr(kMapped.size());
  }
  std::array<unsigned char, 16> net{}, addr{};
  int family = b.find(':') == std::string::npos ? AF_INET : AF_INET6;
  if (inet_pton(family, b.c_str(), net.data()) != 1 || inet_pton(family, addr_text.c_str(), addr.data()) != 1) {
    return false;
  }
  int bits = family == AF_INET ? 32 : 128;
  if (prefix > bits) return false;
  if (prefix < 0) prefix = bits;
  for (int i = 0; i < prefix; ++i) {
    int byte = i / 8, bit = 7 - i % 8;
    if (((net[byte] >> bit) & 1) != ((addr[byte] >> bit) & 1)) return false;
  }
  return true;
}

Status validatePolicy(const av1::HttpPolicy& p) {
  if (p.namespace_().empty() || p.name().empty()) {
    return makeError(ErrorCode::kInvalidArgument, "HttpPolicy without namespace or name");
  }
  // A block is well formed exactly when its own base address falls in it.
  auto blocksOk = [&](const google::protobuf::RepeatedPtrField<std::string>& blocks, const char* field,
                      std::size_t rule) -> Status {
    for (const auto& b : blocks) {
      std::string_view base = std::string_view(b).substr(0, b.find('/'));
      if (!ipInBlock(b, base)) {
        return makeError(ErrorCode::kInvalidArgument,
                         "HttpPolicy {}/{}: rules[{}].from.{}: '{}' is not an address "
                         "or CIDR block",
                         p.namespace_(), p.name(), rule, field, b);
      }
    }
    return {};
  };
  for (int i = 0; i < p.rules_size(); ++i) {
    for (const auto& s : p.rules(i).from()) {
      for (auto st : {blocksOk(s.ip_blocks(), "ipBlocks", i), blocksOk(s.not_ip_blocks(), "notIpBlocks", i),
                      blocksOk(s.remote_ip_blocks(), "remoteIpBlocks", i),
                      blocksOk(s.not_remote_ip_blocks(), "notRemoteIpBlocks", i)}) {
        if (!st) return st;
      }
    }
  }
  return {};
}

Decision decide(const std::vector<const av1::HttpPolicy*>& policies, const RequestAttributes& request) {
  Decision d;
  bool any_allow = false, allow_matched = false;
  std::string deny_by;
  for (const auto* p : policies) {
    bool matched = policyMatches(*p, request);
    if (p->dry_run()) {
      if (matched || p->action() == av1::HttpPolicy::ALLOW) {
        d.dry_run.push_back(nameOf(*p) + (matched ? " would match" : " would not match"));
      }
      continue;
    }
    switch (p->action()) {
      case av1::HttpPolicy::DENY:
        if (matched && deny_by.empty()) deny_by = nameOf(*p);
        break;
      case av1::HttpPolicy::ALLOW:
        any_allow = true;
        allow_matched = allow_matched || matched;
        break;
      case av1::HttpPolicy::AUDIT:
        d.audit = d.audit || matched;
        break;
      default:
        break;
    }
  }
  if (!deny_by.empty()) {
    d.allowed = false;
    d.reason = "denied by DENY policy " + deny_by;
  } else if (any_allow && !allow_matched) {
    d.allowed = false;
    d.reason = "no ALLOW policy matched";
  } else {
    d.reason = any_allow ? "allowed by an ALLOW policy" : "no policy denies";
  }
  return d;
}

}  // namespace ambit::waypoint::authz
