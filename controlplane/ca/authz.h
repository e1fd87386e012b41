// Who may get which certificate. Callers authenticate with a bearer token; the
// decision of which identity they get is a pure function, table-tested:
//  - a workload caller gets its own identity, nothing else;
//  - a node proxy gets its own identity, or (metadata ImpersonatedIdentity) the
//    identity of a pod scheduled on its own node — never a pod elsewhere.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <sys/types.h>

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
class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // kUnauthenticated for a missing or unknown token.
  virtual Result<Caller> authenticate(std::string_view authorization_header) const = 0;
};

class TokenAuthenticator final : public Authenticator {
 public:
  static Result<TokenAuthenticator> fromFile(const std::string& path, const std::string& trust_domain);
  static Result<TokenAuthenticator> fromYaml(const std::string& yaml, const std::string& name,
                                             const std::string& trust_domain);
  Result<Caller> authenticate(std::string_view authorization_header) const override;
  std::size_t size() const { return tokens_.size(); }

 private:
  std::map<std::string, Caller, std::less<>> tokens_;
};

// The token file, read again when it changes (another inode, mtime or size),
// so tokens are added and rotated without a restart (the lab adds one per
// waypoint it starts). A change that does not parse leaves the last good
// tokens in force; lastError() says why until a good version arrives.
class TokenFile final : public Authenticator {
 public:
  // Called after each re-read: error empty and the number of tokens now in
  // force, or why the change was not taken.
  using OnReload = std::function<void(const std::string& error, std::size_t tokens)>;
  // The first read must succeed.
  static Result<std::unique_ptr<TokenFile>> open(const std::string& path, const std::string& trust_domain,
                                                 OnReload on_reload = {});
  Result<Caller> authenticate(std::string_view authorization_header) const override;
  // Re-reads the file if it changed; true when new tokens took effect.
  bool refresh() const;
  std::size_t size() const;
  std::string lastError() const;

 private:
  struct Stamp {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;
    int64_t mtime_ns = -1;
    bool operator==(const Stamp&) const = default;
  };
  TokenFile(std::string path, std::string trust_domain, OnReload on_reload)
      : path_(std::move(path)), trust_domain_(std::move(trust_domain)), on_reload_(std::move(on_reload)) {}
  static std::optional<Stamp> stampOf(const std::string& path);

  std::string path_, trust_domain_;
  OnReload on_reload_;
  mutable std::mutex mu_;
  mutable Stamp stamp_;
  mutable TokenAuthenticator current_;
  mutable std::string last_error_;
};

// The identity a certificate for this caller may carry. `impersonate` is the
// ImpersonatedIdentity metadata value (empty when absent).
Result<tls::Identity> authorizeIdentity(const Caller& caller, const std::string& impersonate,
                                        const std::string& trust_domain, const Snapshot& model);

}  // namespace ambit::controlplane::ca
