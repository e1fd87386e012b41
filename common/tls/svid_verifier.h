// Verification of a peer's X.509-SVID against the mesh's trust bundle: a pure
// function of the certificates, the trust domain and the time (no sockets, no TLS).
#pragma once

#include <chrono>
#include <optional>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/tls/openssl_ptr.h"
#include "common/tls/spiffe_id.h"

namespace ambit::tls {

// The root CAs a mesh trusts, and the X509_STORE built from them once. Immutable
// after construction, so one bundle may verify on many threads at once.
class TrustBundle {
 public:
  // Every certificate must be a self-signed CA: a partial chain (an intermediate used
  // as an anchor) is refused, so trust always ends at a root.
  static Result<TrustBundle> fromCertificates(std::vector<X509Ptr> roots);
  static Result<TrustBundle> fromPem(std::string_view roots_pem);

  TrustBundle(TrustBundle&&) = default;
  TrustBundle& operator=(TrustBundle&&) = default;

  const std::vector<X509Ptr>& roots() const { return roots_; }
  // Shared and read-only: do not add to it or change its flags.
  X509_STORE* store() const { return store_.get(); }

 private:
  TrustBundle(std::vector<X509Ptr> roots, X509StorePtr store)
      : roots_(std::move(roots)), store_(std::move(store)) {}

  std::vector<X509Ptr> roots_;
  X509StorePtr store_;
};

// Why a peer certificate was refused; stable names for metric labels.
enum class SvidRejectReason {
  kNone,                     // not rejected
  kNoCertificate,            // the peer sent none
  kMalformedCertificate,     // extensions that do not decode, or appear twice
  kLeafIsCa,                 // basicConstraints CA=true on the leaf
  kLeafCanSign,              // keyCertSign or cRLSign on the leaf
  kMissingDigitalSignature,  // keyUsage present without digitalSignature
  kNoUriSan,                 // no URI SAN (e.g. DNS names only)
  kMultipleUriSans,          // more than one URI SAN
  kMalformedSpiffeId,        // the URI SAN is not a valid SPIFFE ID
  kWrongTrustDomain,         // a SPIFFE ID of another trust domain
  kNotWorkloadIdentity,      // a SPIFFE ID not of the form /ns/<ns>/sa/<sa>
  kExpired,                  // a certificate in the chain is past notAfter
  kNotYetValid,              // a certificate in the chain is before notBefore
  kUntrustedChain,           // the chain does not lead to a root in the bundle
  kInvalidChain,             // it does, but breaks a rule (signature, constraints, depth, ...)
  kUnexpectedIdentity,       // a valid SVID, but not the identity the caller expects (tls_context)
  kInternal,                 // OpenSSL failed (out of memory)
};

// "wrong_trust_domain", ...
const char* svidRejectReasonName(SvidRejectReason reason);

// The detail a TLS stack needs besides the message: the reason for metrics, and the
// closest X509_V_ERR_* code, from which OpenSSL chooses the alert it sends.
struct SvidRejection {
  SvidRejectReason reason = SvidRejectReason::kNone;
  int x509_error = 0;  // X509_V_OK when not rejected
};

// Verifies `leaf` (with the peer's `intermediates`, may be null) as an X.509-SVID:
//  - leaf: not a CA, no keyCertSign/cRLSign, digitalSignature if keyUsage is present,
//    exactly one URI SAN, a SPIFFE ID in `trust_domain` of the form /ns/<ns>/sa/<sa>;
//  - chain: verifies to a root of `roots` at time `now` with X509_V_FLAG_X509_STRICT,
//    no partial chains, at most 8 certificates deep.
// Returns the peer's identity, or kUnauthenticated with an operator-readable message;
// `rejection`, when given, is filled in either way.
Result<Identity> verifySvid(X509* leaf, STACK_OF(X509) * intermediates, const TrustBundle& roots,
                            std::string_view trust_domain, std::chrono::system_clock::time_point now,
                            SvidRejection* rejection = nullptr);

// Only the chain part of verifySvid. `now` = nullopt ignores validity periods, to check
// that a certificate set fits together (e.g. when loading our own) regardless of clock.
Status verifyChain(X509* leaf, STACK_OF(X509) * intermediates, const TrustBundle& roots,
                   std::optional<std::chrono::system_clock::time_point> now, SvidRejection* rejection = nullptr);

// The identity in a certificate's single URI SAN, with the leaf checks of verifySvid
// for any trust domain, but no chain or time checks. For certificates whose chain is
// checked elsewhere (our own, when loading them).
Result<Identity> identityFromCertificate(X509* cert, SvidRejection* rejection = nullptr);

}  // namespace ambit::tls
