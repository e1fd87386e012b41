// X.509-SVID verification: the SPIFFE leaf rules first (they give the most precise
// reason), then the chain with OpenSSL's verifier in strict mode at a given time.
#include "common/tls/svid_verifier.h"

#include <cstdint>

#include "common/tls/cert_builder.h"

namespace ambit::tls {
namespace {

// Far above any real mesh chain (root, maybe one or two intermediates, leaf), and it
// bounds the work a peer can ask for.
constexpr int kMaxChainDepth = 8;

Error reject(SvidRejection* out, SvidRejectReason reason, int x509_error, std::string message) {
  if (out != nullptr) *out = SvidRejection{reason, x509_error};
  return Error{ErrorCode::kUnauthenticated, std::move(message)};
}

void accept(SvidRejection* out) {
  if (out != nullptr) *out = SvidRejection{SvidRejectReason::kNone, X509_V_OK};
}

// `who` names the certificate in messages: "peer certificate" or "certificate".
Result<Identity> checkLeaf(X509* leaf, std::optional<std::string_view> trust_domain, SvidRejection* out,
                           std::string_view who) {
  // Shape problems are refused with bad_certificate, the alert for "I will not use this".
  constexpr int kBadShape = X509_V_ERR_CERT_REJECTED;
  if (leaf == nullptr) {
    return reject(out, SvidRejectReason::kNoCertificate, X509_V_ERR_APPLICATION_VERIFICATION,
                  "peer sent no certificate; mutual TLS requires an X.509-SVID");
  }
  std::uint32_t flags = X509_get_extension_flags(leaf);
  if ((flags & EXFLAG_INVALID) != 0) {
    drainOpenSslErrors();
    return reject(out, SvidRejectReason::kMalformedCertificate, kBadShape,
                  fmt::format("{} has extensions that do not decode or appear twice", who));
  }
  if ((flags & EXFLAG_CA) != 0) {
    return reject(out, SvidRejectReason::kLeafIsCa, kBadShape,
                  fmt::format("{} has basicConstraints CA=true; an X.509-SVID leaf must not be a CA", who));
  }
  if ((flags & EXFLAG_KUSAGE) != 0) {
    std::uint32_t usage = X509_get_key_usage(leaf);
    if ((usage & (KU_KEY_CERT_SIGN | KU_CRL_SIGN)) != 0) {
      return reject(out, SvidRejectReason::kLeafCanSign, kBadShape,
                    fmt::format("{} has keyCertSign or cRLSign key usage; an X.509-SVID leaf must not "
                                "sign certificates or CRLs",
                                who));
    }
    if ((usage & KU_DIGITAL_SIGNATURE) == 0) {
      return reject(out, SvidRejectReason::kMissingDigitalSignature, kBadShape,
                    fmt::format("{} has a key usage without digitalSignature, which an X.509-SVID leaf must have",
                                who));
    }
  }

  std::vector<std::string> uris = certificateUriSans(leaf);
  if (uris.empty()) {
    std::size_t dns = certificateDnsSans(leaf).size();
    return reject(out, SvidRejectReason::kNoUriSan, kBadShape,
                  dns > 0 ? fmt::format("{} has no URI SAN, only {} DNS SAN(s); an X.509-SVID must have exactly "
                                        "one spiffe:// URI SAN",
                                        who, dns)
                          : fmt::format("{} has no URI SAN; an X.509-SVID must have exactly one spiffe:// URI SAN",
                                        who));
  }
  if (uris.size() > 1) {
    return reject(out, SvidRejectReason::kMultipleUriSans, kBadShape,
                  fmt::format("{} has {} URI SANs; an X.509-SVID must have exactly one", who, uris.size()));
  }
  auto domain = parseSpiffeTrustDomain(uris[0]);
  if (!domain) {
    return reject(out, SvidRejectReason::kMalformedSpiffeId, kBadShape,
                  fmt::format("{}'s URI SAN: {}", who, domain.error().message));
  }
  if (trust_domain && *domain != *trust_domain) {
    return reject(out, SvidRejectReason::kWrongTrustDomain, kBadShape,
                  fmt::format("{} is from trust domain \"{}\", but only \"{}\" is trusted here", who, *domain,
                              *trust_domain));
  }
  auto identity = parseIdentity(uris[0]);
  if (!identity) {
    return reject(out, SvidRejectReason::kNotWorkloadIdentity, kBadShape,
                  fmt::format("{}'s URI SAN: {}", who, identity.error().message));
  }
  accept(out);
  return identity;
}

SvidRejectReason reasonForChainError(int err) {
  switch (err) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return SvidRejectReason::kExpired;
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return SvidRejectReason::kNotYetValid;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
      return SvidRejectReason::kUntrustedChain;
    default:
      return SvidRejectReason::kInvalidChain;
  }
}

std::string describeDepth(int depth, X509* cert, std::string_view who) {
  if (depth == 0) return fmt::format("the {}", who);
  return fmt::format("certificate {} of the chain ({})", depth, cert != nullptr ? subjectName(cert) : "?");
}

Status checkChain(X509* leaf, STACK_OF(X509) * intermediates, const TrustBundle& roots,
                  std::optional<std::chrono::system_clock::time_point> now, SvidRejection* rejection,
                  std::string_view who) {
  if (leaf == nullptr) {
    return reject(rejection, SvidRejectReason::kNoCertificate, X509_V_ERR_APPLICATION_VERIFICATION,
                  "peer sent no certificate; mutual TLS requires an X.509-SVID");
  }
  X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), roots.store(), leaf, intermediates) != 1) {
    return reject(rejection, SvidRejectReason::kInternal, X509_V_ERR_OUT_OF_MEM,
                  fmt::format("cannot set up certificate verification: {}", drainOpenSslErrors()));
  }
  // No X509_V_FLAG_PARTIAL_CHAIN: trust must end at a root of the bundle.
  X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_X509_STRICT);
  X509_STORE_CTX_set_depth(ctx.get(), kMaxChainDepth);
  if (now) {
    X509_STORE_CTX_set_time(ctx.get(), 0, std::chrono::system_clock::to_time_t(*now));
  } else {
    X509_STORE_CTX_set_flags(ctx.get(), X509_V_FLAG_NO_CHECK_TIME);
  }
  int rc = X509_verify_cert(ctx.get());
  if (rc == 1) {
    accept(rejection);
    return okStatus();
  }
  int err = X509_STORE_CTX_get_error(ctx.get());
  int depth = X509_STORE_CTX_get_error_depth(ctx.get());
  X509* bad = X509_STORE_CTX_get_current_cert(ctx.get());
  std::string openssl_detail = drainOpenSslErrors();
  if (rc < 0 || err == X509_V_OK) {
    return reject(rejection, SvidRejectReason::kInternal, X509_V_ERR_UNSPECIFIED,
                  fmt::format("certificate verification failed to run: {}", openssl_detail));
  }
  SvidRejectReason reason = reasonForChainError(err);
  std::string subject = describeDepth(depth, bad, who);
  std::string now_text = now ? formatTime(*now) : "unknown";
  std::string message;
  switch (reason) {
    case SvidRejectReason::kExpired:
      message = fmt::format("{} expired at {} (now is {})", subject, formatTime(certificateNotAfter(bad)),
                            now_text);
      break;
    case SvidRejectReason::kNotYetValid:
      message = fmt::format("{} is not valid before {} (now is {}); check the clocks of both hosts", subject,
                            formatTime(certificateNotBefore(bad)), now_text);
      break;
    case SvidRejectReason::kUntrustedChain:
      message = fmt::format("{} does not chain to a root in the trust bundle ({}); was it issued by another "
                            "mesh's CA, or is an intermediate missing from the chain?",
                            subject, X509_verify_cert_error_string(err));
      break;
    default:
      message = fmt::format("{} fails chain verification: {}", subject, X509_verify_cert_error_string(err));
      break;
  }
  return reject(rejection, reason, err, std::move(message));
}

}  // namespace

Result<TrustBundle> TrustBundle::fromCertificates(std::vector<X509Ptr> roots) {
  if (roots.empty()) return makeError(ErrorCode::kInvalidArgument, "the trust bundle has no root certificate");
  X509StorePtr store(X509_STORE_new());
  if (!store) return makeError(ErrorCode::kInternal, "allocating an X509_STORE: {}", drainOpenSslErrors());
  for (std::size_t i = 0; i < roots.size(); ++i) {
    X509* root = roots[i].get();
    if (root == nullptr) return makeError(ErrorCode::kInvalidArgument, "trust bundle entry {} is null", i + 1);
    bool is_ca = (X509_get_extension_flags(root) & EXFLAG_CA) != 0;
    if (!is_ca || X509_self_signed(root, 1) != 1) {
      drainOpenSslErrors();
      return makeError(ErrorCode::kInvalidArgument,
                       "trust bundle certificate {} ({}) is not a self-signed root CA; only roots are trust "
                       "anchors (an intermediate belongs in the chain, not the bundle)",
                       i + 1, subjectName(root));
    }
    if (X509_STORE_add_cert(store.get(), root) != 1) {
      return makeError(ErrorCode::kInternal, "adding a root to the X509_STORE: {}", drainOpenSslErrors());
    }
  }
  return TrustBundle(std::move(roots), std::move(store));
}

Result<TrustBundle> TrustBundle::fromPem(std::string_view roots_pem) {
  auto certs = parsePemCertificates(roots_pem);
  if (!certs) return certs.error().wrap("reading the trust bundle");
  return fromCertificates(std::move(certs).value());
}

const char* svidRejectReasonName(SvidRejectReason reason) {
  switch (reason) {
    case SvidRejectReason::kNone: return "none";
    case SvidRejectReason::kNoCertificate: return "no_certificate";
    case SvidRejectReason::kMalformedCertificate: return "malformed_certificate";
    case SvidRejectReason::kLeafIsCa: return "leaf_is_ca";
    case SvidRejectReason::kLeafCanSign: return "leaf_can_sign";
    case SvidRejectReason::kMissingDigitalSignature: return "missing_digital_signature";
    case SvidRejectReason::kNoUriSan: return "no_uri_san";
    case SvidRejectReason::kMultipleUriSans: return "multiple_uri_sans";
    case SvidRejectReason::kMalformedSpiffeId: return "malformed_spiffe_id";
    case SvidRejectReason::kWrongTrustDomain: return "wrong_trust_domain";
    case SvidRejectReason::kNotWorkloadIdentity: return "not_workload_identity";
    case SvidRejectReason::kExpired: return "expired";
    case SvidRejectReason::kNotYetValid: return "not_yet_valid";
    case SvidRejectReason::kUntrustedChain: return "untrusted_chain";
    case SvidRejectReason::kInvalidChain: return "invalid_chain";
    case SvidRejectReason::kUnexpectedIdentity: return "unexpected_identity";
    case SvidRejectReason::kInternal: return "internal";
  }
  return "unknown";
}

Status verifyChain(X509* leaf, STACK_OF(X509) * intermediates, const TrustBundle& roots,
                   std::optional<std::chrono::system_clock::time_point> now, SvidRejection* rejection) {
  return checkChain(leaf, intermediates, roots, now, rejection, "certificate");
}

Result<Identity> identityFromCertificate(X509* cert, SvidRejection* rejection) {
  return checkLeaf(cert, std::nullopt, rejection, "certificate");
}

Result<Identity> verifySvid(X509* leaf, STACK_OF(X509) * intermediates, const TrustBundle& roots,
                            std::string_view trust_domain, std::chrono::system_clock::time_point now,
                            SvidRejection* rejection) {
  auto identity = checkLeaf(leaf, trust_domain, rejection, "peer certificate");
  if (!identity) return identity;
  if (auto st = checkChain(leaf, intermediates, roots, now, rejection, "peer certificate"); !st) return st.error();
  return identity;
}

}  // namespace ambit::tls
