// Loading and checking our own certificate bundle. Mistakes here (a key for another
// certificate, a chain from another CA) would otherwise show up as every peer refusing us.
#include "common/tls/certificate_store.h"

#include <algorithm>

namespace ambit::tls {
namespace {

Error invalidBundle(std::string_view why) {
  return makeError(ErrorCode::kInvalidArgument, "invalid certificate bundle: {}", why);
}

}  // namespace

Result<std::shared_ptr<const CertBundle>> CertBundle::fromPem(std::string_view key_pem,
                                                              std::string_view chain_pem_leaf_first,
                                                              std::string_view roots_pem) {
  auto key = parsePemPrivateKey(key_pem);
  if (!key) return invalidBundle(key.error().message);
  auto chain = parsePemCertificates(chain_pem_leaf_first);
  if (!chain) return invalidBundle(fmt::format("certificate chain: {}", chain.error().message));
  auto roots = TrustBundle::fromPem(roots_pem);
  if (!roots) return invalidBundle(roots.error().message);
  return fromParts(std::move(key).value(), std::move(chain).value(), std::move(roots).value());
}

Result<std::shared_ptr<const CertBundle>> CertBundle::fromParts(EvpPkeyPtr key, std::vector<X509Ptr> chain_leaf_first,
                                                                TrustBundle roots) {
  if (!key) return invalidBundle("no private key");
  if (chain_leaf_first.empty() || !chain_leaf_first.front()) return invalidBundle("no leaf certificate");
  for (const auto& cert : chain_leaf_first) {
    if (!cert) return invalidBundle("null certificate in the chain");
  }
  X509Ptr leaf = std::move(chain_leaf_first.front());
  std::vector<X509Ptr> chain;
  for (std::size_t i = 1; i < chain_leaf_first.size(); ++i) chain.push_back(std::move(chain_leaf_first[i]));

  if (X509_check_private_key(leaf.get(), key.get()) != 1) {
    drainOpenSslErrors();
    return invalidBundle(fmt::format("the private key does not belong to the leaf certificate ({})",
                                     certificateUriSans(leaf.get()).empty() ? subjectName(leaf.get())
                                                                            : certificateUriSans(leaf.get())[0]));
  }
  auto identity = identityFromCertificate(leaf.get());
  if (!identity) return invalidBundle(identity.error().message);

  X509StackPtr intermediates(sk_X509_new_null());
  if (!intermediates) return makeError(ErrorCode::kInternal, "allocating a certificate stack");
  for (const auto& cert : chain) {
    X509Ptr ref = upRef(cert.get());
    if (sk_X509_push(intermediates.get(), ref.get()) == 0) {
      return makeError(ErrorCode::kInternal, "allocating a certificate stack");
    }
    ref.release();  // now owned by the stack
  }
  if (auto st = verifyChain(leaf.get(), intermediates.get(), roots, std::nullopt); !st) {
    return invalidBundle(fmt::format("leaf and chain do not verify to the trust bundle: {}", st.error().message));
  }

  TimePoint not_before = certificateNotBefore(leaf.get());
  TimePoint not_after = certificateNotAfter(leaf.get());
  for (const auto& cert : chain) not_after = std::min(not_after, certificateNotAfter(cert.get()));

  return std::shared_ptr<const CertBundle>(std::make_shared<CertBundle>(
      CertBundle{std::move(key), std::move(leaf), std::move(chain), std::move(roots), std::move(identity).value(),
                 not_before, not_after}));
}

}  // namespace ambit::tls
