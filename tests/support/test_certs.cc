// TestPki: run-time root, intermediate and workload certificates for tests.
#include "tests/support/test_certs.h"

namespace ambit::test {

using namespace std::chrono_literals;

tls::X509StackPtr TestLeaf::intermediateStack() const {
  tls::X509StackPtr stack(sk_X509_new_null());
  for (const auto& cert : intermediates) {
    X509_up_ref(cert.get());
    sk_X509_push(stack.get(), cert.get());
  }
  return stack;
}

TestPki::TestPki(std::string trust_domain, std::string name)
    : trust_domain_(std::move(trust_domain)),
      now_(std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now())) {
  root_key_ = unwrap(tls::generateEcKey(), "root key");
  tls::CertSpec root_spec;
  root_spec.common_name = name + " Root CA";
  root_spec.is_ca = true;
  root_spec.not_before = now_ - 24h;
  root_spec.not_after = now_ + 24h * 365;
  root_ = unwrap(tls::issueCertificate(root_spec, root_key_.get(), nullptr, root_key_.get()), "root CA");

  intermediate_key_ = unwrap(tls::generateEcKey(), "intermediate key");
  tls::CertSpec intermediate_spec = root_spec;
  intermediate_spec.common_name = name + " Intermediate CA";
  intermediate_spec.path_len = 0;
  intermediate_ = unwrap(tls::issueCertificate(intermediate_spec, intermediate_key_.get(), root_.get(), root_key_.get()),
                         "intermediate CA");
}

tls::TrustBundle TestPki::trustBundle() const {
  std::vector<tls::X509Ptr> roots;
  roots.push_back(tls::upRef(root_.get()));
  return unwrap(tls::TrustBundle::fromCertificates(std::move(roots)), "trust bundle");
}

std::string TestPki::rootPem() const { return tls::toPem(root_.get()); }

tls::CertSpec TestPki::leafSpec(const tls::Identity& id) const {
  tls::CertSpec spec;
  spec.uri_sans = {id.toString()};
  spec.not_before = now_ - 5min;
  spec.not_after = now_ + 24h;
  return spec;
}

TestLeaf TestPki::issueLeaf(const tls::CertSpec& spec, Issuer issuer) const {
  return issueMutatedLeaf(spec, nullptr, issuer);
}

TestLeaf TestPki::issueMutatedLeaf(const tls::CertSpec& spec, const std::function<void(X509*)>& mutate,
                                   Issuer issuer) const {
  bool by_root = issuer == Issuer::kRoot;
  X509* ca = by_root ? root_.get() : intermediate_.get();
  EVP_PKEY* ca_key = by_root ? root_key_.get() : intermediate_key_.get();
  TestLeaf leaf;
  leaf.key = unwrap(tls::generateEcKey(), "leaf key");
  leaf.cert = unwrap(tls::issueCertificate(spec, leaf.key.get(), ca, ca_key), "leaf");
  if (mutate) {
    mutate(leaf.cert.get());
    if (X509_sign(leaf.cert.get(), ca_key, EVP_sha256()) <= 0) {
      throw std::runtime_error("re-signing a mutated leaf: " + tls::drainOpenSslErrors());
    }
  }
  if (!by_root) leaf.intermediates.push_back(tls::upRef(intermediate_.get()));
  return leaf;
}

std::shared_ptr<const tls::CertBundle> TestPki::bundle(const TestLeaf& leaf) const {
  std::vector<tls::X509Ptr> chain;
  chain.push_back(tls::upRef(leaf.cert.get()));
  for (const auto& cert : leaf.intermediates) chain.push_back(tls::upRef(cert.get()));
  return unwrap(tls::CertBundle::fromParts(tls::upRef(leaf.key.get()), std::move(chain), trustBundle()),
                "certificate bundle");
}

}  // namespace ambit::test
