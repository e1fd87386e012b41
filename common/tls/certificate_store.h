// Our own workload certificate (key, leaf, chain, trust roots) as an immutable
// bundle, and the store that lets the certificate client swap it at any time.
#pragma once

#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

#include "common/base/result.h"
#include "common/tls/cert_builder.h"
#include "common/tls/openssl_ptr.h"
#include "common/tls/spiffe_id.h"
#include "common/tls/svid_verifier.h"

namespace ambit::tls {

// One certificate generation. Never changed after construction: a handshake that
// picked it keeps a consistent key/leaf/chain/roots even if a newer one arrives.
struct CertBundle {
  EvpPkeyPtr key;
  X509Ptr leaf;
  std::vector<X509Ptr> chain;  // intermediates, leaf excluded, in the order sent to peers
  TrustBundle roots;           // what peers' certificates must chain to
  Identity identity;           // from the leaf's URI SAN
  TimePoint not_before;        // the leaf's
  TimePoint not_after;         // the earliest notAfter of leaf and chain: when this bundle stops working

  // Builds and checks a bundle: the key matches the leaf, the leaf is an X.509-SVID
  // with an Istio-form identity, and leaf + chain verify to `roots` (validity periods
  // are not checked here, so a bundle can be loaded whatever the clock says; a
  // handshake refuses to present an expired one). Errors are kInvalidArgument.
  static Result<std::shared_ptr<const CertBundle>> fromPem(std::string_view key_pem,
                                                           std::string_view chain_pem_leaf_first,
                                                           std::string_view roots_pem);
  // The same checks for objects already in memory; `chain_leaf_first` must hold at least the leaf.
  static Result<std::shared_ptr<const CertBundle>> fromParts(EvpPkeyPtr key, std::vector<X509Ptr> chain_leaf_first,
                                                             TrustBundle roots);
};

// Holds the current CertBundle. Thread-safe: update() from the certificate client's
// thread while every worker reads current() at handshake time; a reader keeps the
// bundle it got alive for as long as it needs. The lock covers one shared_ptr copy,
// once per handshake: cheap, and unlike libstdc++ 12's std::atomic<std::shared_ptr>
// it is understood by ThreadSanitizer.
class CertificateStore {
 public:
  CertificateStore() = default;
  explicit CertificateStore(std::shared_ptr<const CertBundle> initial) : current_(std::move(initial)) {}

  CertificateStore(const CertificateStore&) = delete;
  CertificateStore& operator=(const CertificateStore&) = delete;

  // Replaces the bundle for handshakes that start from now on; established
  // connections are untouched. nullptr removes it: new handshakes then fail closed.
  void update(std::shared_ptr<const CertBundle> bundle) {
    std::lock_guard lock(mutex_);
    // The old bundle moves into the parameter, which dies after the lock is released:
    // freeing it never happens while readers wait.
    current_.swap(bundle);
  }

  // nullptr until the first update().
  std::shared_ptr<const CertBundle> current() const {
    std::lock_guard lock(mutex_);
    return current_;
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const CertBundle> current_;
};

}  // namespace ambit::tls
