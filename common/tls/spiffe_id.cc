// SPIFFE ID validation per the SPIFFE ID spec, and the Istio /ns/<ns>/sa/<sa> form.
// IDs arrive in peer certificates, so every message escapes what it quotes.
#include "common/tls/spiffe_id.h"

#include <vector>

#include <fmt/format.h>

namespace ambit::tls {
namespace {

constexpr std::string_view kScheme = "spiffe://";
// Long enough to recognise an ID in a log, short enough that a hostile one cannot flood it.
constexpr std::size_t kMaxQuotedLength = 200;

// The input quoted for a log line: non-printable bytes escaped, long input truncated.
std::string quote(std::string_view s) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < kMaxQuotedLength; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (s.size() > kMaxQuotedLength) out += fmt::format("... ({} bytes)", s.size());
  return out;
}

std::string describeChar(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u < 0x20 || u >= 0x7f) return fmt::format("byte 0x{:02x}", u);
  return fmt::format("'{}'", c);
}

bool isTrustDomainChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

bool isPathChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

struct SpiffeIdParts {
  std::string_view trust_domain;
  std::vector<std::string_view> segments;  // the path split on '/', none when there is no path
};

Error invalid(std::string_view uri, std::string_view why) {
  return makeError(ErrorCode::kInvalidArgument, "{} is not a valid SPIFFE ID: {}", quote(uri), why);
}

Result<SpiffeIdParts> splitSpiffeId(std::string_view uri) {
  if (uri.empty()) return makeError(ErrorCode::kInvalidArgument, "SPIFFE ID is empty");
  if (uri.size() > kMaxSpiffeIdLength) {
    return invalid(uri, fmt::format("it is {} bytes long; the limit is {}", uri.size(), kMaxSpiffeIdLength));
  }
  if (!uri.starts_with(kScheme)) {
    bool same_letters = uri.size() >= kScheme.size();
    for (std::size_t i = 0; same_letters && i < kScheme.size(); ++i) {
      char c = uri[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      same_letters = c == kScheme[i];
    }
    return invalid(uri, same_letters ? "the scheme must be lowercase \"spiffe://\""
                                     : "the scheme must be \"spiffe://\"");
  }
  std::string_view rest = uri.substr(kScheme.size());
  if (rest.find('?') != std::string_view::npos) return invalid(uri, "a query ('?') is not allowed");
  if (rest.find('#') != std::string_view::npos) return invalid(uri, "a fragment ('#') is not allowed");

  SpiffeIdParts parts;
  std::size_t slash = rest.find('/');
  parts.trust_domain = rest.substr(0, slash);
  if (parts.trust_domain.empty()) return invalid(uri, "the trust domain is empty");
  if (parts.trust_domain.find('@') != std::string_view::npos) {
    return invalid(uri, "userinfo ('@') is not allowed in the trust domain");
  }
  if (parts.trust_domain.find(':') != std::string_view::npos) {
    return invalid(uri, "a port (':') is not allowed in the trust domain");
  }
  if (parts.trust_domain.size() > kMaxTrustDomainLength) {
    return invalid(uri, fmt::format("the trust domain is {} bytes long; the limit is {}",
                                    parts.trust_domain.size(), kMaxTrustDomainLength));
  }
  for (char c : parts.trust_domain) {
    if (c >= 'A' && c <= 'Z') return invalid(uri, "the trust domain must be lowercase");
    if (!isTrustDomainChar(c)) {
      return invalid(uri, fmt::format("the trust domain contains {}; allowed are a-z, 0-9, '.', '-' and '_'",
                                      describeChar(c)));
    }
  }
  if (slash == std::string_view::npos) return parts;

  // The path: "/seg/seg...", every segment non-empty and not a dot segment.
  std::string_view path = rest.substr(slash + 1);
  while (true) {
    std::size_t next = path.find('/');
    std::string_view segment = path.substr(0, next);
    if (segment.empty()) {
      return invalid(uri, next == std::string_view::npos ? "a trailing '/' is not allowed"
                                                         : "empty path segments ('//') are not allowed");
    }
    if (segment == "." || segment == "..") {
      return invalid(uri, fmt::format("the path segment '{}' is not allowed", segment));
    }
    for (char c : segment) {
      if (c == '%') return invalid(uri, "percent-encoding is not allowed in the path");
      if (!isPathChar(c)) {
        return invalid(uri, fmt::format("the path contains {}; allowed are A-Z, a-z, 0-9, '.', '-' and '_'",
                                        describeChar(c)));
      }
    }
    parts.segments.push_back(segment);
    if (next == std::string_view::npos) break;
    path = path.substr(next + 1);
  }
  return parts;
}

}  // namespace

std::string Identity::toString() const {
  return fmt::format("spiffe://{}/ns/{}/sa/{}", trust_domain, ns, service_account);
}

Result<Identity> parseIdentity(std::string_view uri) {
  auto parts = splitSpiffeId(uri);
  if (!parts) return parts.error();
  const auto& seg = parts->segments;
  if (seg.size() != 4 || seg[0] != "ns" || seg[2] != "sa") {
    return makeError(ErrorCode::kInvalidArgument,
                     "{} is a SPIFFE ID but not a workload identity: the path must be "
                     "/ns/<namespace>/sa/<service-account>",
                     quote(uri));
  }
  return Identity{std::string(parts->trust_domain), std::string(seg[1]), std::string(seg[3])};
}

Result<std::string> parseSpiffeTrustDomain(std::string_view uri) {
  auto parts = splitSpiffeId(uri);
  if (!parts) return parts.error();
  return std::string(parts->trust_domain);
}

}  // namespace ambit::tls
