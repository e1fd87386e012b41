// L7 authorization at the waypoint (pure; table-tested): Istio's
// AuthorizationPolicy semantics over a request's normalized attributes.
//   - any matching DENY policy denies;
//   - else, when ALLOW policies apply, one must match;
//   - AUDIT policies only mark the request for the access log;
//   - a dry-run policy is decided and reported, never enforced.
// Values are Istio patterns: exact, "prefix*", "*suffix", "*" (present); hosts
// compare case-insensitively; paths are the normalized path (no query).
// Repeated request headers (hardening.md 6): a DENY condition holds when any
// single value (or the comma-joined list) matches; an ALLOW condition only
// when every value does, so no value the backend might read escapes the rule.
// JWT fields (requestPrincipals, request.auth.*) cannot be checked yet: a rule
// using them never matches for ALLOW and is enforced without them for DENY.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ambit/authz/v1/http_policy.pb.h"
#include "common/base/result.h"
#include "waypoint/route/match.h"

namespace ambit::waypoint::authz {

namespace av1 = ambit::authz::v1;

struct RequestAttributes {
  std::optional<std::string> principal;  // "cluster.local/ns/x/sa/y" from mTLS; none = plaintext
  std::string source_namespace;          // from the principal
  std::string source_ip;                 // textual
  std::string remote_ip;                 // the original client (X-Forwarded-For), else source_ip
  std::string destination_ip;
  uint32_t port = 0;                     // the service port the request arrived on
  std::string host;                      // normalized, without the port
  std::string authority;                 // normalized, with the port when one was sent
  std::string method;
  std::string path;                      // normalized, without the query
  const std::vector<route::Header>* headers = nullptr;
  // A TCP connection passed through (no HTTP): as in Istio, a rule that names
  // HTTP-only fields (hosts, methods, paths, request headers, request
  // principals) never matches for ALLOW, and is enforced without them for DENY.
  bool l4_only = false;
};

struct Decision {
  bool allowed = true;
  std::string reason;             // e.g. "denied by DENY policy demo/no-admin"
  bool audit = false;             // an AUDIT policy matched
  std::vector<std::string> dry_run;  // what dry-run policies would have done
};

Decision decide(const std::vector<const av1::HttpPolicy*>& policies, const RequestAttributes& request);

// Why a policy cannot be enforced as written (a NACK), or ok: it needs a
// namespace and name, and every IP block must parse (a malformed block would
// match nothing, so a DENY on it would silently deny nothing).
Status validatePolicy(const av1::HttpPolicy& p);

// An Istio string pattern against a value.
bool patternMatches(std::string_view pattern, std::string_view value, bool ignore_case = false);
// "198.18.0.0/16" or a bare address against a textual address.
bool ipInBlock(std::string_view block, std::string_view ip);

}  // namespace ambit::waypoint::authz
