// Who may get which certificate. Callers authenticate with a bearer token; the
// decision of which identity they get is a pure function, table-tested:
//  - a workload caller gets its own identity, nothing else;
//  - a node proxy gets its own identity, or (metadata ImpersonatedIdentity) the
//    identity of a pod scheduled on its own node — never a pod elsewhere.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "common/base/result.h"
#include "common/tls/spiffe_id.h"
#include "controlplane/model/store.h"

namespace ambit::controlplane::ca {

struct Caller {
  enum class Kind { kNode, kWorkload } kind = Kind::kWorkload;
  std::string node;        // kNode: the node it runs on
  tls::Identity identity;  // its own identity
};

// Tokens from a file (the lab; a cluster uses TokenReview instead):
//   nodes:     [{name: node-a, token: "..."}]        # node proxies (ztunnel)
//   workloads: [{namespace: demo, serviceAccount: client, token: "..."}]
class TokenAuthenticator {
 public:
  static Result<TokenAuthenticator> fromFile(const std::string& path, const std::string& trust_domain);
  static Result<TokenAuthenticator> fromYaml(const std::string& yaml, const std::string& name,
                                             const std::string& trust_domain);
  // kUnauthenticated for a missing or unknown token.
  Result<Caller> authenticate(std::string_view authorization_header) const;
  std::size_t size() const { return tokens_.size(); }

 private:
  std::map<std::string, Caller, std::less<>> tokens_;
};

// The identity a certificate for this caller may carry. `impersonate` is the
// ImpersonatedIdentity metadata value (empty when absent).
Result<tls::Identity> authorizeIdentity(const Caller& caller, const std::string& impersonate,
                                        const std::string& trust_domain, const Snapshot& model);

}  // namespace ambit::controlplane::ca
