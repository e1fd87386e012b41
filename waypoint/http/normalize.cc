#include "waypoint/http/normalize.h"

#include <vector>

#include "common/base/ascii.h"
#include "common/base/percent.h"

namespace ambit::waypoint::http {

namespace {

bool unreserved(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
         c == '_' || c == '~';
}

// RFC 3986 5.2.4 on an absolute path, segment by segment.
std::string removeDotSegments(const std::string& path) {
  std::vector<std::string_view> out;
  std::string_view p(path);
  bool trailing_slash = false;
  std::size_t i = 1;  // past the leading '/'
  while (i <= p.size()) {
    auto next = p.find('/', i);
    if (next == std::string_view::npos) next = p.size();
    auto seg = p.substr(i, next - i);
    bool last = next == p.size();
    if (seg == ".") {
      trailing_slash = last;
    } else if (seg == "..") {
      if (!out.empty()) out.pop_back();
      trailing_slash = last;
    } else {
      out.push_back(seg);
      trailing_slash = false;
    }
    i = next + 1;
  }
  std::string r;
  for (const auto& s : out) {
    r += '/';
    r += s;
  }
  if (trailing_slash || r.empty()) r += '/';
  return r;
}

}  // namespace

Result<Target> normalizeTarget(std::string_view raw, const NormalizeOptions& options) {
  if (raw.empty() || raw[0] != '/') {
    return makeError(ErrorCode::kInvalidArgument, "request target must be a path starting with '/'");
  }
  Target t;
  if (auto hash = raw.find('#'); hash != std::string_view::npos) raw = raw.substr(0, hash);
  if (auto q = raw.find('?'); q != std::string_view::npos) {
    t.query = std::string(raw.substr(q + 1));
    t.has_query = true;
    raw = raw.substr(0, q);
  }
  std::string path;
  path.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    char c = raw[i];
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return makeError(ErrorCode::kInvalidArgument, "control character or space in the request path");
    }
    if (c == '%') {
      if (i + 2 >= raw.size() || hexDigitValue(raw[i + 1]) < 0 || hexDigitValue(raw[i + 2]) < 0) {
        return makeError(ErrorCode::kInvalidArgument, "bad %-escape in the request path");
      }
      char d = static_cast<char>(hexDigitValue(raw[i + 1]) * 16 + hexDigitValue(raw[i + 2]));
      i += 2;
      if (d == '/' || d == '\\') {
        switch (options.escaped_slashes) {
          case NormalizeOptions::EscapedSlashes::kReject:
            return makeError(ErrorCode::kInvalidArgument, "encoded '/' or '\\' in the request path");
          case NormalizeOptions::EscapedSlashes::kDecode:
            path += '/';
            continue;
          case NormalizeOptions::EscapedSlashes::kKeep:
            path += d == '/' ? "%2F" : "%5C";
            continue;
        }
      }
      if (unreserved(d)) {
        path += d;
      } else if (static_cast<unsigned char>(d) < 0x20 || d == 0x7f) {
        return makeError(ErrorCode::kInvalidArgument, "encoded control character in the request path");
      } else {
        static const char* kHex = "0123456789ABCDEF";
        path += '%';
        path += kHex[(static_cast<unsigned char>(d) >> 4) & 0xf];
        path += kHex[static_cast<unsigned char>(d) & 0xf];
      }
      continue;
    }
    path += c == '\\' ? '/' : c;
  }
  if (options.merge_slashes) {
    std::string merged;
    merged.reserve(path.size());
    for (char c : path) {
      if (c == '/' && !merged.empty() && merged.back() == '/') continue;
      merged += c;
    }
    path = std::move(merged);
  }
  // "..;x" and ".;x" are dot segments to Tomcat and Spring (they drop ";x"):
  // refused, so that "/public/..;/admin" cannot pass a rule as "/public/*".
  for (std::size_t at = 0; (at = path.find(';', at)) != std::string::npos; ++at) {
    auto seg_start = path.rfind('/', at);
    auto seg = std::string_view(path).substr(seg_start + 1, at - seg_start - 1);
    if (seg == "." || seg == "..") return makeError(ErrorCode::kInvalidArgument, "dot segment with ';' parameters");
  }
  t.path = removeDotSegments(path);
  return t;
}

std::string normalizeHost(std::string_view host) {
  std::string h = asciiLowered(host);
  // "example.com.:80" / "example.com." -> without the root dot. A port follows
  // the last ':' of a name, or the ']' of a [v6] literal.
  std::size_t colon = std::string::npos;
  if (!h.empty() && h[0] == '[') {
    auto close = h.find(']');
    if (close != std::string::npos && close + 1 < h.size() && h[close + 1] == ':') colon = close + 1;
  } else if (auto c = h.find(':'); c != std::string::npos && h.find(':', c + 1) == std::string::npos) {
    colon = c;
  }
  bool has_port = colon != std::string::npos;
  std::string name = has_port ? h.substr(0, colon) : h;
  std::string port = has_port ? h.substr(colon) : "";
  if (name.size() > 1 && name.back() == '.') name.pop_back();
  return name + port;
}

std::string hostWithoutPort(std::string_view authority) {
  auto h = normalizeHost(authority);
  if (!h.empty() && h[0] == '[') {
    auto close = h.find(']');
    return close == std::string::npos ? h : h.substr(0, close + 1);
  }
  auto colon = h.find(':');
  if (colon == std::string::npos || h.find(':', colon + 1) != std::string::npos) return h;  // no port, or bare v6
  return h.substr(0, colon);
}

}  // namespace ambit::waypoint::http
