// Route selection (pure): a HostConfig compiled once per xDS update (regexes
// built by RE2, linear time), then asked per request for the first route whose
// matches hold. A config whose regex does not compile is refused (NACK).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ambit/route/v1/route.pb.h"
#include "common/base/result.h"

namespace re2 {
class RE2;
}

namespace ambit::waypoint::route {

namespace rv1 = ambit::route::v1;

struct Header {
  std::string name;   // lower-case
  std::string value;
};

// What a route may look at. `path` is the normalized path without the query;
// `query` is the raw query string without '?'. Headers keep their order; a
// repeated header is matched on its values joined with "," (as Envoy does).
struct RequestView {
  std::string_view method;
  std::string_view path;
  std::string_view query;
  std::string_view authority;  // Host / :authority, as sent
  const std::vector<Header>* headers = nullptr;
  uint32_t port = 0;           // the service port the request arrived on
};

class StringMatcher {
 public:
  static Result<StringMatcher> compile(const rv1::StringMatch& m);
  StringMatcher(StringMatcher&&) noexcept;
  StringMatcher& operator=(StringMatcher&&) noexcept;
  ~StringMatcher();
  bool matches(std::string_view s) const;

 private:
  StringMatcher() = default;
  rv1::StringMatch::Kind kind_ = rv1::StringMatch::EXACT;
  std::string value_;
  bool ignore_case_ = false;
  std::unique_ptr<re2::RE2> re_;
};

// One route's match conditions, compiled.
class CompiledMatch {
 public:
  static Result<CompiledMatch> compile(const rv1::RouteMatch& m);
  bool matches(const RequestView& r) const;

 private:
  struct HeaderCond {
    std::string name;
    std::optional<StringMatcher> match;  // unset = present
    bool invert = false;
  };
  struct QueryCond {
    std::string name;
    std::optional<StringMatcher> match;
  };
  std::optional<StringMatcher> path_, method_, authority_;
  std::vector<HeaderCond> headers_;
  std::vector<QueryCond> query_;
  uint32_t port_ = 0;
};

struct CompiledRoute {
  const rv1::HttpRoute* route = nullptr;  // points into CompiledHost::config
  std::vector<CompiledMatch> matches;      // any one; empty = every request
  std::vector<uint32_t> weights;           // of route->destinations()
};

class CompiledHost {
 public:
  // Errors name the route and the field (e.g. a regex RE2 refuses).
  static Result<std::shared_ptr<const CompiledHost>> compile(rv1::HostConfig config);
  const rv1::HostConfig& config() const { return config_; }
  // The first route that matches, or null (then: 404 when the host has routes).
  // `matched`, when given, gets the match that held (null for a route
  // without matches): rewrites replace what it matched.
  const CompiledRoute* select(const RequestView& r, const rv1::RouteMatch** matched = nullptr) const;
  bool hasRoutes() const { return !routes_.empty(); }

 private:
  rv1::HostConfig config_;
  std::vector<CompiledRoute> routes_;
};

// The value of query parameter `name` in a raw query string ("a=1&b=2"),
// percent-decoded; nullopt when absent. "a" alone is present and empty.
std::optional<std::string> queryParam(std::string_view query, std::string_view name);

}  // namespace ambit::waypoint::route
