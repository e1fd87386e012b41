// Token authentication and the impersonation rules.
#include "controlplane/ca/authz.h"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/base/file.h"
#include "controlplane/model/yaml_reader.h"

namespace ambit::controlplane::ca {

Result<TokenAuthenticator> TokenAuthenticator::fromFile(const std::string& path, const std::string& trust_domain) {
  auto text = readFile(path);
  if (!text) return text.error().wrap("token file");
  return fromYaml(*text, path, trust_domain);
}

Result<TokenAuthenticator> TokenAuthenticator::fromYaml(const std::string& yaml, const std::string& name,
                                                        const std::string& trust_domain) {
  ReadContext ctx;
  ctx.file = name;
  YAML::Node doc;
  try {
    doc = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    return makeError(ErrorCode::kInvalidArgument, "{}:{}:{}: YAML syntax error: {}", name, e.mark.line + 1,
                     e.mark.column + 1, e.msg);
  }
  TokenAuthenticator auth;
  YamlReader root(doc, "", ctx);
  auto add = [&](YamlReader& r, Caller c) {
    std::string token = r.requiredStr("token");
    if (!token.empty() && token.size() < 16) r.error("token", "tokens must be at least 16 characters");
    if (!token.empty() && !auth.tokens_.emplace(token, std::move(c)).second) r.error("token", "token used twice");
  };
  for (auto& n : root.list("nodes")) {
    Caller c;
    c.kind = Caller::Kind::kNode;
    c.node = n.requiredStr("name");
    // Node proxies run as ztunnel in istio-system, as in Istio.
    c.identity = tls::Identity{trust_domain, n.str("namespace", "istio-system"), n.str("serviceAccount", "ztunnel")};
    add(n, std::move(c));
    n.done();
  }
  for (auto& w : root.list("workloads")) {
    Caller c;
    c.kind = Caller::Kind::kWorkload;
    c.identity = tls::Identity{trust_domain, w.requiredStr("namespace"), w.requiredStr("serviceAccount")};
    add(w, std::move(c));
    w.done();
  }
  root.done();
  if (!ctx.issues.empty()) return Error{ErrorCode::kInvalidArgument, ctx.issues[0].toString()};
  return auth;
}

Result<Caller> TokenAuthenticator::authenticate(std::string_view header) const {
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() <= kBearer.size() || header.substr(0, kBearer.size()) != kBearer) {
    return makeError(ErrorCode::kUnauthenticated, "no bearer token in the authorization header");
  }
  auto it = tokens_.find(header.substr(kBearer.size()));
  if (it == tokens_.end()) return makeError(ErrorCode::kUnauthenticated, "unknown token");
  return it->second;
}

Result<tls::Identity> authorizeIdentity(const Caller& caller, const std::string& impersonate,
                                        const std::string& trust_domain, const Snapshot& model) {
  if (impersonate.empty()) return caller.identity;
  auto wanted = tls::parseIdentity(impersonate);
  if (!wanted) {
    return makeError(ErrorCode::kInvalidArgument, "ImpersonatedIdentity '{}': {}", impersonate, wanted.error().message);
  }
  if (wanted->trust_domain != trust_domain) {
    return makeError(ErrorCode::kPermissionDenied, "ImpersonatedIdentity {} is not in trust domain {}", impersonate,
                     trust_domain);
  }
  if (*wanted == caller.identity) return caller.identity;
  if (caller.kind != Caller::Kind::kNode) {
    return makeError(ErrorCode::kPermissionDenied, "{} may not ask for {}: only node proxies impersonate",
                     caller.identity.toString(), impersonate);
  }
  for (const auto& [key, pod] : inNamespace(model.pods, wanted->ns)) {
    if (pod->service_account == wanted->service_account && pod->node_name == caller.node) {
      return *wanted;
    }
  }
  return makeError(ErrorCode::kPermissionDenied, "node {} runs no pod with identity {}", caller.node, impersonate);
}

}  // namespace ambit::controlplane::ca
