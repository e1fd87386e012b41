// Route selection tables: each match kind, headers (present, joined, inverted),
// query parameters, port, first-match order, and configs refused at compile.
#include <gtest/gtest.h>

#include "waypoint/route/match.h"

namespace ambit::waypoint::route {
namespace {

rv1::StringMatch sm(rv1::StringMatch::Kind kind, const std::string& v, bool ignore_case = false) {
  rv1::StringMatch m;
  m.set_kind(kind);
  m.set_value(v);
  m.set_ignore_case(ignore_case);
  return m;
}

struct StringCase {
  rv1::StringMatch::Kind kind;
  std::string value;
  bool ignore_case;
  std::string input;
  bool want;
};

TEST(StringMatcherTest, EachKind) {
  using K = rv1::StringMatch;
  const StringCase cases[] = {
      {K::EXACT, "/api", false, "/api", true},
      {K::EXACT, "/api", false, "/api/", false},
      {K::EXACT, "/API", true, "/api", true},
      {K::EXACT, "/API", false, "/api", false},
      {K::PREFIX, "/api", false, "/apiary", true},  // Istio's prefix is a plain string prefix
      {K::PREFIX, "/api", false, "/ap", false},
      {K::PREFIX, "/Api", true, "/aPIx", true},
      {K::PATH_PREFIX, "/api", false, "/api", true},
      {K::PATH_PREFIX, "/api", false, "/api/v1", true},
      {K::PATH_PREFIX, "/api", false, "/apiary", false},  // Gateway API: whole segments
      {K::PATH_PREFIX, "/api/", false, "/api", true},     // a trailing '/' is ignored
      {K::PATH_PREFIX, "/", false, "/anything", true},
      {K::REGEX, "/v[0-9]+/.*", false, "/v2/items", true},
      {K::REGEX, "/v[0-9]+", false, "/v2/items", false},  // whole-string match
      {K::REGEX, "/ITEMS", true, "/items", true},
  };
  for (const auto& c : cases) {
    auto m = StringMatcher::compile(sm(c.kind, c.value, c.ignore_case));
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->matches(c.input), c.want) << c.value << " vs " << c.input;
  }
}

TEST(StringMatcherTest, BadRegexIsRefused) {
  auto m = StringMatcher::compile(sm(rv1::StringMatch::REGEX, "/(unclosed"));
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message.find("/(unclosed"), std::string::npos) << m.error().message;
}

rv1::HostConfig hostWith(const std::vector<std::pair<std::string, rv1::RouteMatch>>& routes) {
  rv1::HostConfig h;
  for (const auto& [name, m] : routes) {
    auto* r = h.add_http_routes();
    r->set_name(name);
    *r->add_matches() = m;
    r->add_destinations()->set_weight(100);
  }
  return h;
}

std::string selected(const CompiledHost& h, const RequestView& r) {
  auto* c = h.select(r);
  return c == nullptr ? "<none>" : c->route->name();
}

TEST(CompiledHostTest, HeadersQueryPortAndFirstMatchWins) {
  rv1::RouteMatch by_header;
  auto* hm = by_header.add_headers();
  hm->set_name("X-User");
  *hm->mutable_match() = sm(rv1::StringMatch::EXACT, "jason");
  rv1::RouteMatch not_beta;
  auto* nb = not_beta.add_headers();
  nb->set_name("x-beta");
  nb->set_invert(true);  // present at all -> no match
  *not_beta.mutable_path() = sm(rv1::StringMatch::PATH_PREFIX, "/stable");
  rv1::RouteMatch by_query;
  auto* q = by_query.add_query_params();
  q->set_name("v");
  *q->mutable_match() = sm(rv1::StringMatch::EXACT, "2 beta");
  rv1::RouteMatch by_port;
  by_port.set_port(9080);
  *by_port.mutable_method() = sm(rv1::StringMatch::EXACT, "POST");
  auto compiled = CompiledHost::compile(
      hostWith({{"header", by_header}, {"stable", not_beta}, {"query", by_query}, {"port", by_port}}));
  ASSERT_TRUE(compiled.ok());
  const auto& h = **compiled;

  std::vector<Header> jason{{"x-user", "jason"}};
  std::vector<Header> two_users{{"x-user", "jason"}, {"x-user", "mallory"}};
  std::vector<Header> beta{{"x-beta", "1"}};
  std::vector<Header> none;
  struct Case {
    std::string method, path, query;
    const std::vector<Header>* headers;
    uint32_t port;
    std::string want;
  } cases[] = {
      {"GET", "/", "", &jason, 80, "header"},
      {"GET", "/", "", &two_users, 80, "<none>"},  // joined "jason,mallory" is not "jason"
      {"GET", "/stable/x", "", &none, 80, "stable"},
      {"GET", "/stable/x", "", &beta, 80, "<none>"},
      {"GET", "/", "a=1&v=2%20beta", &none, 80, "query"},  // values are %-decoded
      {"GET", "/", "v=2", &none, 80, "<none>"},
      {"POST", "/", "", &none, 9080, "port"},
      {"POST", "/", "", &none, 80, "<none>"},
      {"GET", "/stable", "", &jason, 80, "header"},  // first match in order wins
  };
  for (const auto& c : cases) {
    RequestView r{c.method, c.path, c.query, "reviews", c.headers, c.port};
    EXPECT_EQ(selected(h, r), c.want) << c.method << " " << c.path << "?" << c.query;
  }
}

TEST(CompiledHostTest, ARouteWithoutMatchesTakesEverything) {
  rv1::HostConfig h;
  h.add_http_routes()->set_name("all");
  auto c = CompiledHost::compile(h);
  ASSERT_TRUE(c.ok());
  std::vector<Header> none;
  EXPECT_EQ(selected(**c, RequestView{"DELETE", "/x", "", "h", &none, 1}), "all");
}

TEST(CompiledHostTest, ABadRegexNamesTheRoute) {
  rv1::RouteMatch m;
  *m.mutable_path() = sm(rv1::StringMatch::REGEX, "[");
  auto c = CompiledHost::compile(hostWith({{"VirtualService/demo/reviews#0", m}}));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.error().message.find("VirtualService/demo/reviews#0"), std::string::npos) << c.error().message;
  EXPECT_NE(c.error().message.find("path"), std::string::npos) << c.error().message;
}

TEST(QueryParamTest, Table) {
  EXPECT_EQ(queryParam("a=1&b=2", "b"), "2");
  EXPECT_EQ(queryParam("a&b=2", "a"), "");
  EXPECT_EQ(queryParam("a=1", "c"), std::nullopt);
  EXPECT_EQ(queryParam("%61=x", "a"), "x");
  EXPECT_EQ(queryParam("", "a"), std::nullopt);
}

}  // namespace
}  // namespace ambit::waypoint::route
