// hardening.md 6: every path trick normalizes to what the backend will see.
#include "waypoint/http/normalize.h"

#include <gtest/gtest.h>

namespace ambit::waypoint::http {
namespace {

TEST(NormalizeTargetTest, TricksBecomeThePlainPath) {
  NormalizeOptions o;
  struct Case {
    std::string raw, path, query;
  } cases[] = {
      {"/admin", "/admin", ""},
      {"//admin", "/admin", ""},
      {"/%2Fadmin", "/admin", ""},
      {"/%2fadmin", "/admin", ""},
      {"/%5Cadmin", "/admin", ""},
      {"/\\admin", "/admin", ""},
      {"/a/../admin", "/admin", ""},
      {"/a/%2E%2E/admin", "/admin", ""},
      {"/./admin/.", "/admin/", ""},
      {"/../../admin", "/admin", ""},
      {"/admin#x", "/admin", ""},
      {"/%61dmin", "/admin", ""},           // unreserved characters are decoded
      {"/a%3fb", "/a%3Fb", ""},             // others stay encoded (hex upper-cased)
      {"/admin?x=%2F", "/admin", "x=%2F"},  // the query is left alone
      {"/a//b///c/", "/a/b/c/", ""},
      {"/", "/", ""},
  };
  for (const auto& c : cases) {
    auto t = normalizeTarget(c.raw, o);
    ASSERT_TRUE(t.ok()) << c.raw << ": " << t.error().message;
    EXPECT_EQ(t->path, c.path) << c.raw;
    EXPECT_EQ(t->query, c.query) << c.raw;
  }
}

TEST(NormalizeTargetTest, OptionsAndRefusals) {
  NormalizeOptions keep;
  keep.escaped_slashes = NormalizeOptions::EscapedSlashes::kKeep;
  keep.merge_slashes = false;
  EXPECT_EQ(normalizeTarget("/a%2fb//c", keep)->path, "/a%2Fb//c");
  NormalizeOptions reject;
  reject.escaped_slashes = NormalizeOptions::EscapedSlashes::kReject;
  EXPECT_FALSE(normalizeTarget("/%2Fadmin", reject).ok());
  NormalizeOptions o;
  for (const char* bad : {"admin", "http://x/admin", "", "/a%zz", "/a%2", "/a b", "/a\x01", "/a%00",
                          "/public/..;/admin", "/.;x/admin", "/public/%2E%2E;/admin"}) {
    EXPECT_FALSE(normalizeTarget(bad, o).ok()) << bad;
  }
  EXPECT_EQ(normalizeTarget("/p?a=1", o)->pathAndQuery(), "/p?a=1");
  EXPECT_EQ(normalizeTarget("/cart;jsessionid=1", o)->path, "/cart;jsessionid=1");  // other parameters stay
  EXPECT_EQ(normalizeTarget("/p?", o)->pathAndQuery(), "/p?");
}

TEST(NormalizeHostTest, CaseTrailingDotAndPort) {
  EXPECT_EQ(normalizeHost("Example.COM.:80"), "example.com:80");
  EXPECT_EQ(normalizeHost("Reviews"), "reviews");
  EXPECT_EQ(normalizeHost("[2001:DB8::1]:443"), "[2001:db8::1]:443");
  EXPECT_EQ(hostWithoutPort("Shop.Demo.:8080"), "shop.demo");
  EXPECT_EQ(hostWithoutPort("[2001:db8::1]:443"), "[2001:db8::1]");
  EXPECT_EQ(hostWithoutPort("2001:db8::1"), "2001:db8::1");
}

}  // namespace
}  // namespace ambit::waypoint::http
