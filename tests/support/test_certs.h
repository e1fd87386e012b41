// A throwaway mesh PKI for tests: a root CA, an intermediate under it, and workload
// certificates on demand, all made at run time with common/tls/cert_builder.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/base/result.h"
#include "common/tls/cert_builder.h"
#include "common/tls/certificate_store.h"
#include "common/tls/openssl_ptr.h"
#include "common/tls/spiffe_id.h"
#include "common/tls/svid_verifier.h"

// Readable GoogleTest output for TLS types (found by argument-dependent lookup).
namespace ambit::tls {
inline void PrintTo(SvidRejectReason reason, std::ostream* os) { *os << svidRejectReasonName(reason); }
inline void PrintTo(const Identity& id, std::ostream* os) { *os << id.toString(); }
}  // namespace ambit::tls

namespace ambit::test {

// The value of a Result the test cannot do without; throws (GoogleTest reports the
// exception as a failure of the running test) with the error and `what`.
template <typename T>
T unwrap(Result<T> result, std::string_view what = "test setup") {
  if (!result) {
    throw std::runtime_error(fmt::format("{}: {}: {}", what, errorCodeName(result.error().code),
                                         result.error().message));
  }
  return std::move(result).value();
}

// A certificate with its key and the intermediates that lead from it to the root.
struct TestLeaf {
  tls::EvpPkeyPtr key;
  tls::X509Ptr cert;
  std::vector<tls::X509Ptr> intermediates;  // leaf excluded; empty when issued by the root

  // A new STACK_OF(X509) holding references to `intermediates` (for verifySvid).
  tls::X509StackPtr intermediateStack() const;
};

class TestPki {
 public:
  enum class Issuer { kRoot, kIntermediate };

  // `name` goes into the CAs' common names, to tell two PKIs apart in messages.
  explicit TestPki(std::string trust_domain = "cluster.local", std::string name = "Test");

  const std::string& trustDomain() const { return trust_domain_; }
  // The time certificates are made relative to: construction time, whole seconds.
  tls::TimePoint now() const { return now_; }

  X509* root() const { return root_.get(); }
  EVP_PKEY* rootKey() const { return root_key_.get(); }
  X509* intermediate() const { return intermediate_.get(); }
  EVP_PKEY* intermediateKey() const { return intermediate_key_.get(); }

  // A new bundle holding this PKI's root.
  tls::TrustBundle trustBundle() const;
  std::string rootPem() const;

  tls::Identity identity(std::string ns, std::string service_account) const {
    return tls::Identity{trust_domain_, std::move(ns), std::move(service_account)};
  }

  // A valid workload leaf spec for `id`: its SPIFFE ID as the only SAN, valid from
  // five minutes before now() to a day after.
  tls::CertSpec leafSpec(const tls::Identity& id) const;

  // Issues a leaf (new P-256 key) from `spec`.
  TestLeaf issueLeaf(const tls::CertSpec& spec, Issuer issuer = Issuer::kIntermediate) const;
  TestLeaf issueLeaf(const tls::Identity& id, Issuer issuer = Issuer::kIntermediate) const {
    return issueLeaf(leafSpec(id), issuer);
  }

  // For certificates the builder refuses to make: applies `mutate` to a valid leaf
  // from `spec`, then signs it again with the issuer's key.
  TestLeaf issueMutatedLeaf(const tls::CertSpec& spec, const std::function<void(X509*)>& mutate,
                            Issuer issuer = Issuer::kIntermediate) const;

  // Our own certificate bundle (key, leaf, chain, this PKI's root) for a workload.
  std::shared_ptr<const tls::CertBundle> bundle(const TestLeaf& leaf) const;
  std::shared_ptr<const tls::CertBundle> bundleFor(const tls::Identity& id) const {
    return bundle(issueLeaf(id));
  }

 private:
  std::string trust_domain_;
  tls::TimePoint now_;
  tls::EvpPkeyPtr root_key_;
  tls::X509Ptr root_;
  tls::EvpPkeyPtr intermediate_key_;
  tls::X509Ptr intermediate_;
};

}  // namespace ambit::test
