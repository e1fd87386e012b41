// The signing side of the CA: a root generated on first start and persisted, or
// an operator-supplied Istio-style `cacerts` directory (root-cert.pem,
// ca-cert.pem, ca-key.pem, cert-chain.pem). Signs workload certificates.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/tls/cert_builder.h"
#include "common/tls/spiffe_id.h"

namespace ambit::controlplane::ca {

struct AuthorityOptions {
  std::string state_dir;    // where a generated root is kept (created 0700, key 0600)
  std::string cacerts_dir;  // operator-supplied CA; wins over state_dir when it holds ca-key.pem
  std::chrono::seconds default_ttl{24 * 3600};
  std::chrono::seconds max_ttl{7 * 24 * 3600};
  std::chrono::hours root_ttl{10 * 365 * 24};
};

class CertificateAuthority {
 public:
  static Result<std::unique_ptr<CertificateAuthority>> loadOrCreate(const AuthorityOptions& options);

  // Signs `csr_pem`'s public key for `identity` (the CSR's own SANs are not
  // trusted: the caller's authorized identity is what the certificate carries).
  // `requested_ttl` 0 = default; longer than max is shortened to max.
  // Returns the PEM chain leaf first, root last.
  Result<std::vector<std::string>> sign(std::string_view csr_pem, const tls::Identity& identity,
                                        std::chrono::seconds requested_ttl) const;

  // Issues a server certificate with DNS SANs (ambitd's own TLS port).
  Result<std::pair<std::string, std::string>> issueServing(const std::vector<std::string>& dns_names,
                                                           std::chrono::seconds ttl) const;

  const std::string& rootPem() const { return root_pem_; }
  std::string source() const { return source_; }  // "generated:<dir>", "loaded:<dir>", "cacerts:<dir>"
  tls::TimePoint signingCertExpiry() const;

 private:
  CertificateAuthority() = default;
  tls::EvpPkeyPtr key_;               // signs
  tls::X509Ptr cert_;                 // the signing certificate (root, or an intermediate)
  std::vector<tls::X509Ptr> chain_;   // from the signing cert up to the root, inclusive
  std::string root_pem_;
  std::string chain_pem_;             // signing cert ... root, PEM
  std::string source_;
  AuthorityOptions options_;
};

}  // namespace ambit::controlplane::ca
