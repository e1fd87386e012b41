// CertBundle loading (PEM in, checks that catch a wrong key or chain), the PEM and
// CSR helpers it relies on, and CertificateStore swaps under concurrent readers.
#include "common/tls/certificate_store.h"

#include <atomic>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/pem.h>

#include "common/tls/cert_builder.h"
#include "tests/support/test_certs.h"

namespace ambit::tls {
namespace {

using namespace std::chrono_literals;
using test::TestLeaf;
using test::TestPki;
using ::testing::HasSubstr;

std::string chainPem(const TestLeaf& leaf) {
  return toPem(leaf.cert.get()) + toPem(leaf.intermediates);
}

TEST(CertBundle, LoadsKeyChainAndRootsFromPem) {
  TestPki pki;
  auto leaf = pki.issueLeaf(pki.identity("shop", "cart"));
  auto bundle = CertBundle::fromPem(privateKeyToPem(leaf.key.get()), chainPem(leaf), pki.rootPem());
  ASSERT_TRUE(bundle.ok()) << bundle.error().message;
  const CertBundle& b = **bundle;
  EXPECT_EQ(b.identity, pki.identity("shop", "cart"));
  EXPECT_EQ(X509_cmp(b.leaf.get(), leaf.cert.get()), 0);
  ASSERT_EQ(b.chain.size(), 1u);
  EXPECT_EQ(X509_cmp(b.chain[0].get(), pki.intermediate()), 0);
  ASSERT_EQ(b.roots.roots().size(), 1u);
  EXPECT_EQ(X509_cmp(b.roots.roots()[0].get(), pki.root()), 0);
  EXPECT_EQ(b.not_before, certificateNotBefore(leaf.cert.get()));
  EXPECT_EQ(b.not_after, certificateNotAfter(leaf.cert.get()));
  EXPECT_EQ(EVP_PKEY_eq(b.key.get(), leaf.key.get()), 1);
}

TEST(CertBundle, ExpiresWithTheFirstCertificateOfItsChainToExpire) {
  TestPki pki;
  auto ca_key = test::unwrap(generateEcKey());
  CertSpec ca_spec;
  ca_spec.common_name = "Short-lived Intermediate";
  ca_spec.is_ca = true;
  ca_spec.not_before = pki.now() - 1h;
  ca_spec.not_after = pki.now() + 2h;
  auto ca = test::unwrap(issueCertificate(ca_spec, ca_key.get(), pki.root(), pki.rootKey()));
  auto key = test::unwrap(generateEcKey());
  auto spec = pki.leafSpec(pki.identity("a", "b"));
  spec.not_after = pki.now() + 24h;
  auto leaf = test::unwrap(issueCertificate(spec, key.get(), ca.get(), ca_key.get()));

  auto bundle = CertBundle::fromPem(privateKeyToPem(key.get()), toPem(leaf.get()) + toPem(ca.get()), pki.rootPem());
  ASSERT_TRUE(bundle.ok()) << bundle.error().message;
  EXPECT_EQ((*bundle)->not_after, ca_spec.not_after);
}

TEST(CertBundle, LoadsAnExpiredBundleSoTheClockDoesNotDecide) {
  TestPki pki;
  auto spec = pki.leafSpec(pki.identity("a", "b"));
  spec.not_before = pki.now() - 2h;
  spec.not_after = pki.now() - 1h;
  auto leaf = pki.issueLeaf(spec);
  auto bundle = CertBundle::fromPem(privateKeyToPem(leaf.key.get()), chainPem(leaf), pki.rootPem());
  ASSERT_TRUE(bundle.ok()) << bundle.error().message;
  EXPECT_EQ((*bundle)->not_after, spec.not_after);
}

TEST(CertBundle, RefusesAKeyOfAnotherCertificate) {
  TestPki pki;
  auto leaf = pki.issueLeaf(pki.identity("a", "b"));
  auto other_key = test::unwrap(generateEcKey());
  auto bundle = CertBundle::fromPem(privateKeyToPem(other_key.get()), chainPem(leaf), pki.rootPem());
  ASSERT_FALSE(bundle.ok());
  EXPECT_EQ(bundle.error().code, ErrorCode::kInvalidArgument);
  EXPECT_THAT(bundle.error().message, HasSubstr("private key does not belong to the leaf"));
}

TEST(CertBundle, RefusesAChainThatDoesNotLeadToTheRoots) {
  TestPki pki;
  TestPki other("cluster.local", "Other");
  auto leaf = other.issueLeaf(other.identity("a", "b"));
  auto bundle = CertBundle::fromPem(privateKeyToPem(leaf.key.get()), chainPem(leaf), pki.rootPem());
  ASSERT_FALSE(bundle.ok());
  EXPECT_THAT(bundle.error().message, HasSubstr("do not verify to the trust bundle"));
}

TEST(CertBundle, RefusesAMissingIntermediate) {
  TestPki pki;
  auto leaf = pki.issueLeaf(pki.identity("a", "b"));
  auto bundle = CertBundle::fromPem(privateKeyToPem(leaf.key.get()), toPem(leaf.cert.get()), pki.rootPem());
  ASSERT_FALSE(bundle.ok());
  EXPECT_THAT(bundle.error().message, HasSubstr("does not chain to a root"));
}

TEST(CertBundle, RefusesALeafThatIsNotAWorkloadSvid) {
  TestPki pki;
  auto spec = pki.leafSpec(Identity{});
  spec.uri_sans.clear();
  spec.dns_sans = {"example.com"};
  auto leaf = pki.issueLeaf(spec);
  auto bundle = CertBundle::fromPem(privateKeyToPem(leaf.key.get()), chainPem(leaf), pki.rootPem());
  ASSERT_FALSE(bundle.ok());
  EXPECT_THAT(bundle.error().message, HasSubstr("no URI SAN"));
}

TEST(CertBundle, RefusesGarbageAndIntermediatesAsRoots) {
  TestPki pki;
  auto leaf = pki.issueLeaf(pki.identity("a", "b"));
  std::string key = privateKeyToPem(leaf.key.get());
  EXPECT_FALSE(CertBundle::fromPem("garbage", chainPem(leaf), pki.rootPem()).ok());
  EXPECT_FALSE(CertBundle::fromPem(key, "garbage", pki.rootPem()).ok());
  EXPECT_FALSE(CertBundle::fromPem(key, chainPem(leaf), "").ok());
  auto as_root = CertBundle::fromPem(key, chainPem(leaf), toPem(pki.intermediate()));
  ASSERT_FALSE(as_root.ok());
  EXPECT_THAT(as_root.error().message, HasSubstr("not a self-signed root CA"));
}

TEST(Pem, CertificatesRoundTripInOrder) {
  TestPki pki;
  std::string pem = toPem(pki.intermediate()) + "\n" + toPem(pki.root());
  auto certs = parsePemCertificates(pem);
  ASSERT_TRUE(certs.ok()) << certs.error().message;
  ASSERT_EQ(certs->size(), 2u);
  EXPECT_EQ(X509_cmp((*certs)[0].get(), pki.intermediate()), 0);
  EXPECT_EQ(X509_cmp((*certs)[1].get(), pki.root()), 0);
  EXPECT_EQ(toPem(*certs), toPem(pki.intermediate()) + toPem(pki.root()));
}

TEST(Pem, RefusesEmptyAndCorruptCertificates) {
  TestPki pki;
  EXPECT_FALSE(parsePemCertificates("").ok());
  std::string pem = toPem(pki.root());
  std::string corrupt = pem;
  corrupt[corrupt.size() / 2] = corrupt[corrupt.size() / 2] == 'A' ? 'B' : 'A';
  // A good certificate followed by a corrupt one: the error must not be swallowed as "end of input".
  auto certs = parsePemCertificates(pem + corrupt.substr(0, corrupt.size() - 40));
  EXPECT_FALSE(certs.ok());
}

TEST(Pem, PrivateKeysRoundTripAndEncryptedKeysAreRefused) {
  auto key = test::unwrap(generateEcKey());
  auto parsed = parsePemPrivateKey(privateKeyToPem(key.get()));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(EVP_PKEY_eq(parsed->get(), key.get()), 1);
  EXPECT_THAT(privateKeyToPem(key.get()), HasSubstr("-----BEGIN PRIVATE KEY-----"));

  BioPtr bio(BIO_new(BIO_s_mem()));
  char pass[] = "secret";
  ASSERT_EQ(PEM_write_bio_PKCS8PrivateKey(bio.get(), key.get(), EVP_aes_256_cbc(), pass, 6, nullptr, nullptr), 1);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  EXPECT_FALSE(parsePemPrivateKey(std::string_view(data, static_cast<std::size_t>(len))).ok());
}

TEST(Csr, CarriesTheRequestedUriSansAndVerifies) {
  auto key = test::unwrap(generateEcKey());
  const std::string id = "spiffe://cluster.local/ns/shop/sa/cart";
  auto csr = test::unwrap(createCsr(key.get(), {id}));
  auto parsed = parsePemCsr(toPem(csr.get()));
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  auto sans = csrUriSans(parsed->get());
  ASSERT_TRUE(sans.ok()) << sans.error().message;
  EXPECT_EQ(*sans, std::vector<std::string>{id});
  EXPECT_EQ(EVP_PKEY_eq(X509_REQ_get0_pubkey(parsed->get()), key.get()), 1);
}

TEST(Csr, RefusesACsrWhoseSignatureDoesNotVerify) {
  auto key = test::unwrap(generateEcKey());
  auto other = test::unwrap(generateEcKey());
  auto csr = test::unwrap(createCsr(key.get(), {"spiffe://cluster.local/ns/a/sa/b"}));
  // Swap in another public key after signing: the signature no longer matches.
  ASSERT_EQ(X509_REQ_set_pubkey(csr.get(), other.get()), 1);
  auto parsed = parsePemCsr(toPem(csr.get()));
  ASSERT_FALSE(parsed.ok());
  EXPECT_THAT(parsed.error().message, HasSubstr("signature does not verify"));
}

TEST(CertBuilder, RefusesInconsistentSpecs) {
  TestPki pki;
  auto key = test::unwrap(generateEcKey());
  CertSpec spec = pki.leafSpec(pki.identity("a", "b"));

  CertSpec backwards = spec;
  std::swap(backwards.not_before, backwards.not_after);
  EXPECT_FALSE(issueCertificate(backwards, key.get(), pki.intermediate(), pki.intermediateKey()).ok());

  CertSpec unnamed_ca = spec;
  unnamed_ca.is_ca = true;
  EXPECT_FALSE(issueCertificate(unnamed_ca, key.get(), pki.intermediate(), pki.intermediateKey()).ok());

  // A leaf cannot issue, and the issuer key must be the issuer's.
  auto leaf = pki.issueLeaf(pki.identity("a", "b"));
  EXPECT_FALSE(issueCertificate(spec, key.get(), leaf.cert.get(), leaf.key.get()).ok());
  EXPECT_FALSE(issueCertificate(spec, key.get(), pki.intermediate(), pki.rootKey()).ok());
  // Self-signed means signed with the subject's own key.
  EXPECT_FALSE(issueCertificate(spec, key.get(), nullptr, pki.rootKey()).ok());

  CertSpec bad_san = spec;
  bad_san.uri_sans = {"spiffe://cluster.local/ns/a/sa/b\n"};
  EXPECT_FALSE(issueCertificate(bad_san, key.get(), pki.intermediate(), pki.intermediateKey()).ok());
}

TEST(CertBuilder, LeafHasTheExtensionsOfAWorkloadCertificate) {
  TestPki pki;
  auto leaf = pki.issueLeaf(pki.identity("a", "b"));
  X509* cert = leaf.cert.get();
  std::uint32_t flags = X509_get_extension_flags(cert);
  EXPECT_EQ(flags & EXFLAG_CA, 0u);
  EXPECT_EQ(X509_get_key_usage(cert), static_cast<std::uint32_t>(KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT));
  EXPECT_EQ(X509_get_extended_key_usage(cert), static_cast<std::uint32_t>(XKU_SSL_SERVER | XKU_SSL_CLIENT));
  EXPECT_NE(X509_get0_subject_key_id(cert), nullptr);
  ASSERT_NE(X509_get0_authority_key_id(cert), nullptr);
  EXPECT_EQ(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert), X509_get0_subject_key_id(pki.intermediate())), 0);
  // An empty subject makes the SAN critical (RFC 5280 4.2.1.6).
  EXPECT_EQ(X509_NAME_entry_count(X509_get_subject_name(cert)), 0);
  EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(cert, X509_get_ext_by_NID(cert, NID_subject_alt_name, -1))), 1);
  EXPECT_EQ(X509_get_signature_nid(cert), NID_ecdsa_with_SHA256);
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
  EXPECT_EQ(ASN1_STRING_length(serial), 16);
  EXPECT_NE(ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(pki.issueLeaf(pki.identity("a", "b")).cert.get())), 0);
}

TEST(CertBuilder, CaHasCertSignUsageAndPathLength) {
  TestPki pki;
  X509* ca = pki.intermediate();
  EXPECT_NE(X509_get_extension_flags(ca) & EXFLAG_CA, 0u);
  EXPECT_EQ(X509_get_key_usage(ca), static_cast<std::uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
  EXPECT_EQ(X509_get_pathlen(ca), 0);
  EXPECT_EQ(X509_get_pathlen(pki.root()), -1);
  EXPECT_EQ(X509_self_signed(pki.root(), 1), 1);
}

TEST(CertificateStore, StartsEmptyAndSwapsBundles) {
  TestPki pki;
  CertificateStore store;
  EXPECT_EQ(store.current(), nullptr);
  auto a = pki.bundleFor(pki.identity("ns", "a"));
  auto b = pki.bundleFor(pki.identity("ns", "b"));
  store.update(a);
  EXPECT_EQ(store.current(), a);
  auto held = store.current();
  store.update(b);
  EXPECT_EQ(store.current(), b);
  EXPECT_EQ(held->identity.service_account, "a");  // a reader keeps what it got
  store.update(nullptr);
  EXPECT_EQ(store.current(), nullptr);
}

TEST(CertificateStore, ReadersSeeWholeBundlesWhileAWriterSwaps) {
  TestPki pki;
  std::vector<std::shared_ptr<const CertBundle>> bundles;
  for (const char* sa : {"a", "b", "c"}) bundles.push_back(pki.bundleFor(pki.identity("ns", sa)));
  CertificateStore store(bundles[0]);
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::atomic<long> reads{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) {
    readers.emplace_back([&] {
      while (!stop.load()) {
        auto current = store.current();
        // The identity must match the leaf of the same bundle.
        if (!current || certificateUriSans(current->leaf.get()).at(0) != current->identity.toString()) ++torn;
        ++reads;
      }
    });
  }
  for (int i = 0; i < 3000; ++i) store.update(bundles[static_cast<std::size_t>(i) % bundles.size()]);
  while (reads.load() < 1000) std::this_thread::yield();
  stop = true;
  for (auto& r : readers) r.join();
  EXPECT_EQ(torn.load(), 0);
}

}  // namespace
}  // namespace ambit::tls
