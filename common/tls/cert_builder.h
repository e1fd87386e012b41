// Builds ECDSA P-256 keys, CSRs and X.509 certificates at run time, and converts
// them to and from PEM. Used by the CA (ambitd), the certificate client and tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/tls/openssl_ptr.h"

namespace ambit::tls {

using TimePoint = std::chrono::system_clock::time_point;

// A new ECDSA key on curve P-256 (named-curve encoding), the mesh's only key type.
Result<EvpPkeyPtr> generateEcKey();

// What to put in a certificate. issueCertificate adds the rest: version 3, SHA-256
// signature, subject and authority key identifiers, and key usages by role:
//   leaf: basicConstraints CA:FALSE, keyUsage digitalSignature+keyEncipherment,
//         extKeyUsage serverAuth+clientAuth (what Istio's CA issues);
//   CA:   basicConstraints CA:TRUE[,pathlen], keyUsage keyCertSign+cRLSign.
// basicConstraints and keyUsage are critical; so is the SAN when the subject is empty
// (RFC 5280 4.2.1.6), which is how workload certificates are issued.
struct CertSpec {
  std::optional<std::string> common_name;  // subject CN; required for a CA
  std::vector<std::string> uri_sans;       // e.g. a SPIFFE ID
  std::vector<std::string> dns_sans;
  bool is_ca = false;
  std::optional<int> path_len;  // CA only: how many CAs may follow below this one
  TimePoint not_before;         // both required: the epoch default is rejected
  TimePoint not_after;
  // Big-endian serial; empty = a random positive 128-bit number (RFC 5280 allows 20 octets).
  std::vector<std::uint8_t> serial;
};

// Issues a certificate for `subject_pubkey` (any EVP_PKEY holding at least the public
// half), signed by `issuer_key`. `issuer` = nullptr makes it self-signed: then
// `issuer_key` must be the key of `subject_pubkey`. Otherwise `issuer` must be a CA
// and `issuer_key` its key. Fails with kInvalidArgument when the spec is inconsistent.
Result<X509Ptr> issueCertificate(const CertSpec& spec, EVP_PKEY* subject_pubkey, X509* issuer,
                                 EVP_PKEY* issuer_key);

// A PKCS#10 request with an empty subject and the given URI SANs (critical extension
// request), signed with `key` using SHA-256 — what a workload sends to the CA.
Result<X509ReqPtr> createCsr(EVP_PKEY* key, const std::vector<std::string>& uri_sans);

// The URI SANs a CSR asks for (empty when it has no SAN extension request).
Result<std::vector<std::string>> csrUriSans(X509_REQ* csr);

// The SANs of a certificate, by kind, in the order they appear.
std::vector<std::string> certificateUriSans(X509* cert);
std::vector<std::string> certificateDnsSans(X509* cert);

// Validity bounds of a certificate as time points.
TimePoint certificateNotBefore(X509* cert);
TimePoint certificateNotAfter(X509* cert);

// "2025-03-01T12:00:00Z", for messages.
std::string formatTime(TimePoint t);

// The subject as a one-line string ("CN=Ambit Root CA"), for messages.
std::string subjectName(X509* cert);

// PEM decoding. Certificates: every CERTIFICATE block in order (a chain, leaf
// first, or a bundle of roots); at least one is required. Keys: PKCS#8 or
// traditional "EC PRIVATE KEY". CSRs: the self-signature is verified.
Result<std::vector<X509Ptr>> parsePemCertificates(std::string_view pem);
Result<EvpPkeyPtr> parsePemPrivateKey(std::string_view pem);
Result<X509ReqPtr> parsePemCsr(std::string_view pem);

// PEM encoding; "" only if OpenSSL runs out of memory. Private keys are written
// unencrypted as PKCS#8: protect the file, not the encoding.
std::string toPem(X509* cert);
std::string toPem(const std::vector<X509Ptr>& certs);
std::string toPem(X509_REQ* csr);
std::string privateKeyToPem(EVP_PKEY* key);

}  // namespace ambit::tls
