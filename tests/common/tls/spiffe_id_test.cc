// SPIFFE ID and Istio identity parsing: tables of IDs the spec allows and refuses.
#include "common/tls/spiffe_id.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ambit::tls {
namespace {

using ::testing::HasSubstr;

struct GoodIdentity {
  std::string uri;
  Identity want;
};

TEST(ParseIdentity, AcceptsWorkloadIdentities) {
  const GoodIdentity cases[] = {
      {"spiffe://cluster.local/ns/default/sa/bookinfo-productpage",
       {"cluster.local", "default", "bookinfo-productpage"}},
      {"spiffe://example.org/ns/a/sa/b", {"example.org", "a", "b"}},
      {"spiffe://td-with_under.score/ns/Mixed.Case-ns/sa/SA_1", {"td-with_under.score", "Mixed.Case-ns", "SA_1"}},
      {"spiffe://1.2.3.4/ns/x/sa/y", {"1.2.3.4", "x", "y"}},
      {"spiffe://a/ns/ns/sa/sa", {"a", "ns", "sa"}},
  };
  for (const auto& c : cases) {
    auto id = parseIdentity(c.uri);
    ASSERT_TRUE(id.ok()) << c.uri << ": " << id.error().message;
    EXPECT_EQ(*id, c.want) << c.uri;
    EXPECT_EQ(id->toString(), c.uri);
  }
}

struct BadId {
  std::string uri;
  std::string why;  // a fragment the error message must contain
};

// Violations of the SPIFFE ID spec; refused by both parsers.
const BadId kInvalidSpiffeIds[] = {
    {"", "empty"},
    {"cluster.local/ns/a/sa/b", "scheme must be \"spiffe://\""},
    {"https://cluster.local/ns/a/sa/b", "scheme must be \"spiffe://\""},
    {"SPIFFE://cluster.local/ns/a/sa/b", "scheme must be lowercase"},
    {"spiffe:/cluster.local/ns/a/sa/b", "scheme must be \"spiffe://\""},
    {"spiffe://", "trust domain is empty"},
    {"spiffe:///ns/a/sa/b", "trust domain is empty"},
    {"spiffe://Cluster.local/ns/a/sa/b", "must be lowercase"},
    {"spiffe://cluster.local:8080/ns/a/sa/b", "port"},
    {"spiffe://user@cluster.local/ns/a/sa/b", "userinfo"},
    {"spiffe://cluster.local/ns/a/sa/b?x=1", "query"},
    {"spiffe://cluster.local/ns/a/sa/b#frag", "fragment"},
    {"spiffe://clu$ter.local/ns/a/sa/b", "contains '$'"},
    {"spiffe://cluster.local/ns/a/sa/b/", "trailing '/'"},
    {"spiffe://cluster.local/", "trailing '/'"},
    {"spiffe://cluster.local//ns/a/sa/b", "empty path segments"},
    {"spiffe://cluster.local/ns//sa/b", "empty path segments"},
    {"spiffe://cluster.local/ns/./sa/b", "'.'"},
    {"spiffe://cluster.local/ns/../sa/b", "'..'"},
    {"spiffe://cluster.local/ns/a%20b/sa/b", "percent-encoding"},
    {"spiffe://cluster.local/ns/a b/sa/b", "contains ' '"},
    {std::string("spiffe://cluster.local/ns/a\nb/sa/b"), "byte 0x0a"},
    {"spiffe://cluster.local/ns/\xc3\xa9/sa/b", "byte 0xc3"},
    {"spiffe://" + std::string(256, 'a') + "/ns/a/sa/b", "trust domain is 256 bytes"},
    {"spiffe://cluster.local/ns/" + std::string(2100, 'a') + "/sa/b", "the limit is 2048"},
};

TEST(ParseIdentity, RefusesInvalidSpiffeIds) {
  for (const auto& c : kInvalidSpiffeIds) {
    auto id = parseIdentity(c.uri);
    ASSERT_FALSE(id.ok()) << c.uri;
    EXPECT_EQ(id.error().code, ErrorCode::kInvalidArgument) << c.uri;
    EXPECT_THAT(id.error().message, HasSubstr(c.why)) << c.uri;
  }
}

TEST(ParseSpiffeTrustDomain, RefusesInvalidSpiffeIds) {
  for (const auto& c : kInvalidSpiffeIds) {
    auto td = parseSpiffeTrustDomain(c.uri);
    ASSERT_FALSE(td.ok()) << c.uri;
    EXPECT_THAT(td.error().message, HasSubstr(c.why)) << c.uri;
  }
}

TEST(ParseIdentity, RefusesValidSpiffeIdsNotOfIstioForm) {
  const std::string cases[] = {
      "spiffe://cluster.local",
      "spiffe://cluster.local/workload",
      "spiffe://cluster.local/ns/a",
      "spiffe://cluster.local/ns/a/sa",
      "spiffe://cluster.local/ns/a/sa/b/extra",
      "spiffe://cluster.local/sa/b/ns/a",
      "spiffe://cluster.local/NS/a/SA/b",
      "spiffe://cluster.local/x/ns/a/sa/b",
  };
  for (const auto& uri : cases) {
    ASSERT_TRUE(parseSpiffeTrustDomain(uri).ok()) << uri << " should be a valid SPIFFE ID";
    auto id = parseIdentity(uri);
    ASSERT_FALSE(id.ok()) << uri;
    EXPECT_THAT(id.error().message, HasSubstr("/ns/<namespace>/sa/<service-account>")) << uri;
  }
}

TEST(ParseSpiffeTrustDomain, ReturnsTheTrustDomainOfAnyValidId) {
  const std::pair<std::string, std::string> cases[] = {
      {"spiffe://example.org", "example.org"},
      {"spiffe://example.org/workload", "example.org"},
      {"spiffe://prod.acme-corp_1/a/b/c/d.e-f_G", "prod.acme-corp_1"},
      {"spiffe://cluster.local/ns/a/sa/b", "cluster.local"},
  };
  for (const auto& [uri, want] : cases) {
    auto td = parseSpiffeTrustDomain(uri);
    ASSERT_TRUE(td.ok()) << uri << ": " << td.error().message;
    EXPECT_EQ(*td, want);
  }
}

TEST(ParseSpiffeTrustDomain, AcceptsExactlyTheLengthLimits) {
  std::string td(kMaxTrustDomainLength, 'a');
  EXPECT_TRUE(parseSpiffeTrustDomain("spiffe://" + td).ok());
  std::string prefix = "spiffe://cluster.local/";
  std::string at_limit = prefix + std::string(kMaxSpiffeIdLength - prefix.size(), 'p');
  ASSERT_EQ(at_limit.size(), kMaxSpiffeIdLength);
  EXPECT_TRUE(parseSpiffeTrustDomain(at_limit).ok());
  EXPECT_FALSE(parseSpiffeTrustDomain(at_limit + "p").ok());
}

TEST(ParseIdentity, MessagesEscapeWhatTheyQuote) {
  auto id = parseIdentity("spiffe://cluster.local/ns/a\x1b[31m/sa/b");
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.error().message.find('\x1b'), std::string::npos) << id.error().message;
  EXPECT_THAT(id.error().message, HasSubstr("\\x1b"));
}

}  // namespace
}  // namespace ambit::tls
