// verifySvid against a run-time PKI: good SVIDs pass, and every rule of the X.509-SVID
// spec and hardening.md item 5 refuses its own kind of bad certificate, with a reason.
#include "common/tls/svid_verifier.h"

#include <functional>
#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/tls/cert_builder.h"
#include "tests/support/test_certs.h"

namespace ambit::tls {
namespace {

using namespace std::chrono_literals;
using test::TestLeaf;
using test::TestPki;
using ::testing::HasSubstr;

class SvidVerifierTest : public ::testing::Test {
 protected:
  Result<Identity> verify(const TestLeaf& leaf, SvidRejection* rejection = nullptr) {
    auto stack = leaf.intermediateStack();
    return verifySvid(leaf.cert.get(), stack.get(), bundle_, pki_.trustDomain(), pki_.now(), rejection);
  }

  TestPki pki_{"cluster.local", "Mesh"};
  TrustBundle bundle_ = pki_.trustBundle();
  Identity alice_ = pki_.identity("default", "alice");
};

TEST_F(SvidVerifierTest, AcceptsLeafIssuedByIntermediate) {
  SvidRejection rejection{SvidRejectReason::kInternal, -1};
  auto id = verify(pki_.issueLeaf(alice_, TestPki::Issuer::kIntermediate), &rejection);
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(*id, alice_);
  EXPECT_EQ(rejection.reason, SvidRejectReason::kNone);
  EXPECT_EQ(rejection.x509_error, X509_V_OK);
}

TEST_F(SvidVerifierTest, AcceptsLeafIssuedByRootWithoutIntermediates) {
  auto leaf = pki_.issueLeaf(alice_, TestPki::Issuer::kRoot);
  auto id = verifySvid(leaf.cert.get(), nullptr, bundle_, "cluster.local", pki_.now());
  ASSERT_TRUE(id.ok()) << id.error().message;
  EXPECT_EQ(*id, alice_);
}

TEST_F(SvidVerifierTest, AcceptsOnlyWithinTheValidityPeriod) {
  auto spec = pki_.leafSpec(alice_);
  auto leaf = pki_.issueLeaf(spec);
  auto stack = leaf.intermediateStack();
  EXPECT_TRUE(verifySvid(leaf.cert.get(), stack.get(), bundle_, "cluster.local", spec.not_before).ok());
  EXPECT_TRUE(verifySvid(leaf.cert.get(), stack.get(), bundle_, "cluster.local", spec.not_after - 1s).ok());
  EXPECT_FALSE(verifySvid(leaf.cert.get(), stack.get(), bundle_, "cluster.local", spec.not_after + 1s).ok());
  EXPECT_FALSE(verifySvid(leaf.cert.get(), stack.get(), bundle_, "cluster.local", spec.not_before - 1s).ok());
}

// One bad certificate per row: how to make it, and what the verifier must say.
struct BadSvidCase {
  std::string name;
  std::function<TestLeaf(const TestPki&)> make;
  SvidRejectReason reason;
  std::string message;  // a fragment the operator-facing message must contain
};

EvpPkeyPtr unwrapKey() { return test::unwrap(generateEcKey()); }

void setKeyUsage(X509* cert, const char* value) {
  X509_EXTENSION_free(X509_delete_ext(cert, X509_get_ext_by_NID(cert, NID_key_usage, -1)));
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, nullptr, NID_key_usage, value));
  ASSERT_TRUE(ext);
  ASSERT_EQ(X509_add_ext(cert, ext.get(), -1), 1);
}

std::vector<BadSvidCase> badSvidCases() {
  const Identity alice{"cluster.local", "default", "alice"};
  return {
      {"wrong trust domain",
       [](const TestPki& pki) {
         return pki.issueLeaf(Identity{"other.local", "default", "alice"});
       },
       SvidRejectReason::kWrongTrustDomain, "trust domain \"other.local\", but only \"cluster.local\""},
      {"DNS-only SAN",
       [](const TestPki& pki) {
         auto spec = pki.leafSpec(Identity{});
         spec.uri_sans.clear();
         spec.dns_sans = {"alice.default.svc.cluster.local"};
         return pki.issueLeaf(spec);
       },
       SvidRejectReason::kNoUriSan, "no URI SAN, only 1 DNS SAN"},
      {"no SAN at all",
       [](const TestPki& pki) {
         auto spec = pki.leafSpec(Identity{});
         spec.uri_sans.clear();
         spec.common_name = "alice";
         return pki.issueLeaf(spec);
       },
       SvidRejectReason::kNoUriSan, "no URI SAN"},
      {"two URI SANs",
       [alice](const TestPki& pki) {
         auto spec = pki.leafSpec(alice);
         spec.uri_sans.push_back("spiffe://cluster.local/ns/default/sa/admin");
         return pki.issueLeaf(spec);
       },
       SvidRejectReason::kMultipleUriSans, "has 2 URI SANs; an X.509-SVID must have exactly one"},
      {"CA=true leaf",
       [alice](const TestPki& pki) {
         auto spec = pki.leafSpec(alice);
         spec.is_ca = true;
         spec.common_name = "sneaky";
         return pki.issueLeaf(spec);
       },
       SvidRejectReason::kLeafIsCa, "CA=true"},
      {"keyCertSign on a non-CA leaf",
       [alice](const TestPki& pki) {
         return pki.issueMutatedLeaf(pki.leafSpec(alice),
                                     [](X509* cert) { setKeyUsage(cert, "critical,digitalSignature,keyCertSign"); });
       },
       SvidRejectReason::kLeafCanSign, "keyCertSign or cRLSign"},
      {"key usage without digitalSignature",
       [alice](const TestPki& pki) {
         return pki.issueMutatedLeaf(pki.leafSpec(alice),
                                     [](X509* cert) { setKeyUsage(cert, "critical,keyEncipherment"); });
       },
       SvidRejectReason::kMissingDigitalSignature, "without digitalSignature"},
      {"URI SAN that is not a SPIFFE ID",
       [](const TestPki& pki) {
         auto spec = pki.leafSpec(Identity{});
         spec.uri_sans = {"https://cluster.local/ns/default/sa/alice"};
         return pki.issueLeaf(spec);
       },
       SvidRejectReason::kMalformedSpiffeId, "scheme must be \"spiffe://\""},
      {"SPIFFE ID not of workload form",
       [](const TestPki& pki) {
         auto spec = pki.leafSpec(Identity{});
         spec.uri_sans = {"spiffe://cluster.local/workload/alice"};
         return pki.issueLeaf(spec);
       },
       SvidRejectReason::kNotWorkloadIdentity, "/ns/<namespace>/sa/<service-account>"},
      {"expired",
       [alice](const TestPki& pki) {
         auto spec = pki.leafSpec(alice);
         spec.not_before = pki.now() - 2h;
         spec.not_after = pki.now() - 1h;
         return pki.issueLeaf(spec);
       },
       SvidRejectReason::kExpired, "the peer certificate expired at"},
      {"not yet valid",
       [alice](const TestPki& pki) {
         auto spec = pki.leafSpec(alice);
         spec.not_before = pki.now() + 1h;
         spec.not_after = pki.now() + 2h;
         return pki.issueLeaf(spec);
       },
       SvidRejectReason::kNotYetValid, "is not valid before"},
      {"signed by an unrelated CA",
       [alice](const TestPki&) {
         TestPki other("cluster.local", "Other");
         return other.issueLeaf(alice);
       },
       SvidRejectReason::kUntrustedChain, "does not chain to a root in the trust bundle"},
      {"intermediate missing from the chain",
       [alice](const TestPki& pki) {
         auto leaf = pki.issueLeaf(alice, TestPki::Issuer::kIntermediate);
         leaf.intermediates.clear();
         return leaf;
       },
       SvidRejectReason::kUntrustedChain, "does not chain to a root"},
      {"signature forged with another key",
       [alice](const TestPki& pki) {
         auto forger = unwrapKey();
         auto leaf = pki.issueLeaf(alice);
         EXPECT_GT(X509_sign(leaf.cert.get(), forger.get(), EVP_sha256()), 0);
         return leaf;
       },
       SvidRejectReason::kInvalidChain, "the peer certificate fails chain verification: certificate signature failure"},
      {"expired intermediate",
       [alice](const TestPki& pki) {
         auto key = unwrapKey();
         CertSpec spec;
         spec.common_name = "Expired Intermediate";
         spec.is_ca = true;
         spec.not_before = pki.now() - 48h;
         spec.not_after = pki.now() - 24h;
         TestLeaf out;
         auto ca = test::unwrap(issueCertificate(spec, key.get(), pki.root(), pki.rootKey()));
         out.key = unwrapKey();
         out.cert = test::unwrap(issueCertificate(pki.leafSpec(alice), out.key.get(), ca.get(), key.get()));
         out.intermediates.push_back(std::move(ca));
         return out;
       },
       SvidRejectReason::kExpired, "certificate 1 of the chain (CN=Expired Intermediate) expired"},
  };
}

TEST_F(SvidVerifierTest, RefusesBadSvidsWithAReason) {
  for (const auto& c : badSvidCases()) {
    SCOPED_TRACE(c.name);
    TestLeaf leaf = c.make(pki_);
    SvidRejection rejection;
    auto id = verify(leaf, &rejection);
    ASSERT_FALSE(id.ok()) << c.name << " was accepted as " << id->toString();
    EXPECT_EQ(id.error().code, ErrorCode::kUnauthenticated);
    EXPECT_EQ(rejection.reason, c.reason) << svidRejectReasonName(rejection.reason) << ": " << id.error().message;
    EXPECT_NE(rejection.x509_error, X509_V_OK);
    EXPECT_THAT(id.error().message, HasSubstr(c.message));
  }
}

TEST_F(SvidVerifierTest, ExpiryAndChainErrorsCarryTheMatchingX509Code) {
  auto spec = pki_.leafSpec(alice_);
  spec.not_before = pki_.now() - 2h;
  spec.not_after = pki_.now() - 1h;
  SvidRejection rejection;
  EXPECT_FALSE(verify(pki_.issueLeaf(spec), &rejection).ok());
  EXPECT_EQ(rejection.x509_error, X509_V_ERR_CERT_HAS_EXPIRED);

  TestPki other("cluster.local", "Other");
  EXPECT_FALSE(verify(other.issueLeaf(alice_), &rejection).ok());
  EXPECT_EQ(rejection.x509_error, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST_F(SvidVerifierTest, RefusesAMissingCertificate) {
  SvidRejection rejection;
  auto id = verifySvid(nullptr, nullptr, bundle_, "cluster.local", pki_.now(), &rejection);
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(rejection.reason, SvidRejectReason::kNoCertificate);
}

TEST_F(SvidVerifierTest, TrustsAnyRootOfABundleWithSeveral) {
  TestPki other("cluster.local", "Other");
  std::vector<X509Ptr> roots;
  roots.push_back(upRef(pki_.root()));
  roots.push_back(upRef(other.root()));
  auto both = test::unwrap(TrustBundle::fromCertificates(std::move(roots)));
  auto leaf = other.issueLeaf(alice_);
  auto stack = leaf.intermediateStack();
  EXPECT_TRUE(verifySvid(leaf.cert.get(), stack.get(), both, "cluster.local", pki_.now()).ok());
}

TEST(TrustBundle, RefusesAnIntermediateAsTrustAnchor) {
  TestPki pki;
  std::vector<X509Ptr> roots;
  roots.push_back(upRef(pki.intermediate()));
  auto bundle = TrustBundle::fromCertificates(std::move(roots));
  ASSERT_FALSE(bundle.ok());
  EXPECT_THAT(bundle.error().message, HasSubstr("not a self-signed root CA"));
}

TEST(TrustBundle, RefusesALeafAndAnEmptyBundle) {
  TestPki pki;
  std::vector<X509Ptr> roots;
  roots.push_back(upRef(pki.issueLeaf(pki.identity("a", "b")).cert.get()));
  EXPECT_FALSE(TrustBundle::fromCertificates(std::move(roots)).ok());
  EXPECT_FALSE(TrustBundle::fromCertificates({}).ok());
  EXPECT_FALSE(TrustBundle::fromPem("not pem").ok());
}

TEST(TrustBundle, ReadsRootsFromPem) {
  TestPki a("cluster.local", "A");
  TestPki b("cluster.local", "B");
  auto bundle = TrustBundle::fromPem(a.rootPem() + b.rootPem());
  ASSERT_TRUE(bundle.ok()) << bundle.error().message;
  ASSERT_EQ(bundle->roots().size(), 2u);
  EXPECT_EQ(X509_cmp(bundle->roots()[1].get(), b.root()), 0);
}

TEST(VerifyChain, IgnoresValidityOnlyWhenAskedTo) {
  TestPki pki;
  auto spec = pki.leafSpec(pki.identity("a", "b"));
  spec.not_before = pki.now() - 2h;
  spec.not_after = pki.now() - 1h;
  auto leaf = pki.issueLeaf(spec);
  auto stack = leaf.intermediateStack();
  auto bundle = pki.trustBundle();
  EXPECT_TRUE(verifyChain(leaf.cert.get(), stack.get(), bundle, std::nullopt).ok());
  EXPECT_FALSE(verifyChain(leaf.cert.get(), stack.get(), bundle, pki.now()).ok());
}

TEST(SvidRejectReasonName, NamesAreDistinctMetricLabels) {
  std::set<std::string> names;
  for (int r = 0; r <= static_cast<int>(SvidRejectReason::kInternal); ++r) {
    std::string name = svidRejectReasonName(static_cast<SvidRejectReason>(r));
    EXPECT_NE(name, "unknown");
    EXPECT_TRUE(names.insert(name).second) << name;
  }
}

}  // namespace
}  // namespace ambit::tls
