#include "waypoint/route/match.h"

#include <algorithm>

#include <re2/re2.h>

#include "common/base/ascii.h"
#include "common/base/percent.h"

namespace ambit::waypoint::route {

namespace {

// s starts with v.
bool startsWith(std::string_view s, std::string_view v, bool ignore_case) {
  if (s.size() < v.size()) return false;
  s = s.substr(0, v.size());
  return ignore_case ? equalsIgnoreCase(s, v) : s == v;
}

}  // namespace

StringMatcher::StringMatcher(StringMatcher&&) noexcept = default;
StringMatcher& StringMatcher::operator=(StringMatcher&&) noexcept = default;
StringMatcher::~StringMatcher() = default;

Result<StringMatcher> StringMatcher::compile(const rv1::StringMatch& m) {
  StringMatcher out;
  out.kind_ = m.kind();
  out.value_ = m.value();
  out.ignore_case_ = m.ignore_case();
  if (m.kind() == rv1::StringMatch::REGEX) {
    RE2::Options o;
    o.set_log_errors(false);
    o.set_case_sensitive(!m.ignore_case());
    auto re = std::make_unique<re2::RE2>(m.value(), o);
    if (!re->ok()) return makeError(ErrorCode::kInvalidArgument, "regex '{}': {}", m.value(), re->error());
    out.re_ = std::move(re);
  } else if (m.kind() == rv1::StringMatch::PATH_PREFIX) {
    // Segment-wise: "/api/" is "/api"; "/" matches every path.
    while (out.value_.size() > 1 && out.value_.back() == '/') out.value_.pop_back();
  }
  return out;
}

bool StringMatcher::matches(std::string_view s) const {
  switch (kind_) {
    case rv1::StringMatch::EXACT:
      return s.size() == value_.size() && startsWith(s, value_, ignore_case_);
    case rv1::StringMatch::PREFIX:
      return startsWith(s, value_, ignore_case_);
    case rv1::StringMatch::REGEX:
      return re2::RE2::FullMatch(re2::StringPiece(s.data(), s.size()), *re_);
    case rv1::StringMatch::PATH_PREFIX:
      if (value_ == "/") return !s.empty() && s[0] == '/';
      return startsWith(s, value_, ignore_case_) && (s.size() == value_.size() || s[value_.size()] == '/');
    default:
      return false;
  }
}

Result<CompiledMatch> CompiledMatch::compile(const rv1::RouteMatch& m) {
  CompiledMatch out;
  auto one = [](const rv1::StringMatch& sm, const char* field, std::optional<StringMatcher>& into) -> Status {
    auto c = StringMatcher::compile(sm);
    if (!c) return c.error().wrap(field);
    into.emplace(std::move(*c));
    return {};
  };
  if (m.has_path()) {
    if (auto st = one(m.path(), "path", out.path_); !st) return st.error();
  }
  if (m.has_method()) {
    if (auto st = one(m.method(), "method", out.method_); !st) return st.error();
  }
  if (m.has_authority()) {
    if (auto st = one(m.authority(), "authority", out.authority_); !st) return st.error();
  }
  for (const auto& h : m.headers()) {
    HeaderCond c;
    c.name = asciiLowered(h.name());
    c.invert = h.invert();
    if (h.has_match()) {
      if (auto st = one(h.match(), ("headers[" + h.name() + "]").c_str(), c.match); !st) return st.error();
    }
    out.headers_.push_back(std::move(c));
  }
  for (const auto& q : m.query_params()) {
    QueryCond c;
    c.name = q.name();
    if (q.has_match()) {
      if (auto st = one(q.match(), ("query_params[" + q.name() + "]").c_str(), c.match); !st) return st.error();
    }
    out.query_.push_back(std::move(c));
  }
  out.port_ = m.port();
  return out;
}

bool CompiledMatch::matches(const RequestView& r) const {
  if (port_ != 0 && r.port != port_) return false;
  if (path_ && !path_->matches(r.path)) return false;
  if (method_ && !method_->matches(r.method)) return false;
  if (authority_ && !authority_->matches(r.authority)) return false;
  for (const auto& h : headers_) {
    std::optional<std::string> joined;
    if (r.headers != nullptr) {
      for (const auto& x : *r.headers) {
        if (x.name != h.name) continue;
        if (joined) {
          *joined += ",";
          *joined += x.value;
        } else {
          joined = x.value;
        }
      }
    }
    bool hit = joined.has_value() && (!h.match || h.match->matches(*joined));
    if (hit == h.invert) return false;
  }
  for (const auto& q : query_) {
    auto v = queryParam(r.query, q.name);
    if (!v || (q.match && !q.match->matches(*v))) return false;
  }
  return true;
}

Result<std::shared_ptr<const CompiledHost>> CompiledHost::compile(rv1::HostConfig config) {
  auto host = std::shared_ptr<CompiledHost>(new CompiledHost());
  host->config_ = std::move(config);
  for (int i = 0; i < host->config_.http_routes_size(); ++i) {
    const auto& r = host->config_.http_routes(i);
    CompiledRoute cr;
    cr.route = &r;
    for (int j = 0; j < r.matches_size(); ++j) {
      auto m = CompiledMatch::compile(r.matches(j));
      if (!m) {
        return m.error().wrap(fmt::format("http_routes[{}] ({}).matches[{}]", i, r.name(), j));
      }
      cr.matches.push_back(std::move(*m));
    }
    for (const auto& d : r.destinations()) cr.weights.push_back(d.weight());
    host->routes_.push_back(std::move(cr));
  }
  return std::shared_ptr<const CompiledHost>(std::move(host));
}

const CompiledRoute* CompiledHost::select(const RequestView& r, const rv1::RouteMatch** matched) const {
  if (matched != nullptr) *matched = nullptr;
  for (const auto& cr : routes_) {
    if (cr.matches.empty()) return &cr;
    for (std::size_t i = 0; i < cr.matches.size(); ++i) {
      if (cr.matches[i].matches(r)) {
        if (matched != nullptr) *matched = &cr.route->matches(static_cast<int>(i));
        return &cr;
      }
    }
  }
  return nullptr;
}

std::optional<std::string> queryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = pair.find('=');
    auto key = percentDecode(pair.substr(0, eq), false);
    if (key != name) continue;
    return eq == std::string_view::npos ? std::string() : percentDecode(pair.substr(eq + 1), false);
  }
  return std::nullopt;
}

}  // namespace ambit::waypoint::route
