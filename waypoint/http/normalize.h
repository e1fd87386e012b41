// Request-target normalization (pure; hardening.md 6): the path routes and L7
// policy see is the path the backend is sent, so `//admin`, `/%2Fadmin`,
// `/%5Cadmin`, `/a/../admin` and `/admin#x` cannot slip past a rule on
// `/admin`.
#pragma once

#include <string>
#include <string_view>

#include "common/base/result.h"

namespace ambit::waypoint::http {

struct NormalizeOptions {
  // What %2F and %5C (encoded '/' and '\') become. Decoding (the default) is
  // the safe choice: a backend that decodes them itself would otherwise see a
  // path the policy never saw. kReject answers 400 instead.
  enum class EscapedSlashes { kDecode, kKeep, kReject };
  EscapedSlashes escaped_slashes = EscapedSlashes::kDecode;
  bool merge_slashes = true;  // "//a///b" -> "/a/b"
};

struct Target {
  std::string path;   // normalized, starts with '/'
  std::string query;  // raw, without '?' ("" when none)
  bool has_query = false;
  // path + ("?" + query): what is sent upstream.
  std::string pathAndQuery() const { return has_query ? path + "?" + query : path; }
};

// From an origin-form request target ("/a/b?x=1"); errors (a 400) for a target
// that is not origin-form, a bad %-escape, a control character or an encoded
// slash under kReject, or a dot segment with ';' parameters ("/..;/admin").
// Steps, in order: drop the fragment; split the query;
// decode %-escapes of unreserved characters (and of '/' and '\' under
// kDecode), upper-case the hex of the others; '\' becomes '/'; merge slashes;
// remove dot segments (RFC 3986 5.2.4).
Result<Target> normalizeTarget(std::string_view raw, const NormalizeOptions& options);

// Host as policy compares it: lower-case, without a trailing dot; the port
// stays ("Example.COM.:80" -> "example.com:80").
std::string normalizeHost(std::string_view host);

// "host:port" / "[v6]:port" / "host" -> host without the port, normalized.
std::string hostWithoutPort(std::string_view authority);

}  // namespace ambit::waypoint::http
