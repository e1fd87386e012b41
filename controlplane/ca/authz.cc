// Token authentication and the impersonation rules.
#include "controlplane/ca/authz.h"

#include <sys/stat.h>

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

std::optional<TokenFile::Stamp> TokenFile::stampOf(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return Stamp{st.st_dev, st.st_ino, st.st_size, int64_t(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

Result<std::unique_ptr<TokenFile>> TokenFile::open(const std::string& path, const std::string& trust_domain,
                                                   OnReload on_reload) {
  std::unique_ptr<TokenFile> f(new TokenFile(path, trust_domain, std::move(on_reload)));
  auto stamp = stampOf(path);
  auto parsed = TokenAuthenticator::fromFile(path, trust_domain);
  if (!parsed) return parsed.error();
  f->current_ = std::move(*parsed);
  if (stamp) f->stamp_ = *stamp;
  return f;
}

bool TokenFile::refresh() const {
  auto stamp = stampOf(path_);
  std::string error;
  std::size_t count = 0;
  {
    std::lock_guard lock(mu_);
    if (!stamp) {
      last_error_ = "token file " + path_ + " is gone; the last tokens read stay in force";
      return false;
    }
    if (*stamp == stamp_) return false;
    // The stamp is taken before the read: a write landing after it is read again next time.
    auto parsed = TokenAuthenticator::fromFile(path_, trust_domain_);
    stamp_ = *stamp;
    if (parsed) {
      current_ = std::move(*parsed);
      last_error_.clear();
    } else {
      last_error_ = parsed.error().message + " (the last good tokens stay in force)";
    }
    error = last_error_;
    count = current_.size();
  }
  if (on_reload_) on_reload_(error, count);
  return error.empty();
}

Result<Caller> TokenFile::authenticate(std::string_view header) const {
  refresh();
  std::lock_guard lock(mu_);
  return current_.authenticate(header);
}

std::size_t TokenFile::size() const {
  std::lock_guard lock(mu_);
  return current_.size();
}

std::string TokenFile::lastError() const {
  std::lock_guard lock(mu_);
  return last_error_;
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
