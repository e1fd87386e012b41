// SPIFFE IDs (spiffe://<trust-domain>/<path>) and the Istio workload identity
// form spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/base/result.h"

namespace ambit::tls {

// Limits from the SPIFFE ID specification (section 2).
inline constexpr std::size_t kMaxSpiffeIdLength = 2048;
inline constexpr std::size_t kMaxTrustDomainLength = 255;

// A workload's identity in the mesh: what an X.509-SVID's URI SAN names and what
// authorization policies call a principal.
struct Identity {
  std::string trust_domain;     // e.g. "cluster.local"
  std::string ns;               // Kubernetes namespace
  std::string service_account;  // Kubernetes service account

  // spiffe://<trust_domain>/ns/<ns>/sa/<service_account>
  std::string toString() const;

  friend bool operator==(const Identity&, const Identity&) = default;
};

// Parses an Istio-form identity. Fails with kInvalidArgument, naming the rule broken,
// when `uri` is not a valid SPIFFE ID or its path is not exactly /ns/<ns>/sa/<sa>.
Result<Identity> parseIdentity(std::string_view uri);

// Validates any SPIFFE ID (path optional, any number of segments) and returns its
// trust domain. Fails with kInvalidArgument naming the rule broken.
Result<std::string> parseSpiffeTrustDomain(std::string_view uri);

}  // namespace ambit::tls
