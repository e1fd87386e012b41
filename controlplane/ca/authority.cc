// Root handling and signing.
#include "controlplane/ca/authority.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/base/file.h"
#include "common/log/log.h"

namespace ambit::controlplane::ca {

namespace fs = std::filesystem;
using Clock = std::chrono::system_clock;

namespace {

Status writeFile(const fs::path& p, const std::string& content, mode_t mode) {
  fs::path tmp = p.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return makeError(ErrorCode::kUnavailable, "cannot write {}: {}", tmp.string(), std::strerror(errno));
    out << content;
  }
  if (::chmod(tmp.c_str(), mode) != 0) {
    return makeError(ErrorCode::kUnavailable, "cannot chmod {}: {}", tmp.string(), std::strerror(errno));
  }
  std::error_code ec;
  fs::rename(tmp, p, ec);
  if (ec) return makeError(ErrorCode::kUnavailable, "cannot rename {}: {}", tmp.string(), ec.message());
  return okStatus();
}

// A signing key must not be readable by others.
Status checkKeyMode(const fs::path& p) {
  struct stat st{};
  if (::stat(p.c_str(), &st) != 0) return makeError(ErrorCode::kUnavailable, "cannot stat {}", p.string());
  if (st.st_mode & 077) {
    return makeError(ErrorCode::kPermissionDenied, "{} is readable by group or others (mode {:o}); chmod 600 it",
                     p.string(), st.st_mode & 0777);
  }
  return okStatus();
}

bool keyMatches(X509* cert, EVP_PKEY* key) { return X509_check_private_key(cert, key) == 1; }

}  // namespace

Result<std::unique_ptr<CertificateAuthority>> CertificateAuthority::loadOrCreate(const AuthorityOptions& options) {
  auto ca = std::unique_ptr<CertificateAuthority>(new CertificateAuthority());
  ca->options_ = options;
  std::error_code ec;

  if (!options.cacerts_dir.empty() && fs::exists(fs::path(options.cacerts_dir) / "ca-key.pem", ec)) {
    // Istio's plug-in CA layout: the signing (intermediate) CA, its key, the chain up to the root, and the root.
    fs::path d = options.cacerts_dir;
    auto key_pem = readFile(d / "ca-key.pem");
    auto cert_pem = readFile(d / "ca-cert.pem");
    auto root_pem = readFile(d / "root-cert.pem");
    if (!key_pem) return key_pem.error();
    if (!cert_pem) return cert_pem.error();
    if (!root_pem) return root_pem.error();
    if (auto st = checkKeyMode(d / "ca-key.pem"); !st) return st.error();
    auto key = tls::parsePemPrivateKey(*key_pem);
    auto cert = tls::parsePemCertificates(*cert_pem);
    auto root = tls::parsePemCertificates(*root_pem);
    if (!key) return key.error().wrap((d / "ca-key.pem").string());
    if (!cert) return cert.error().wrap((d / "ca-cert.pem").string());
    if (!root) return root.error().wrap((d / "root-cert.pem").string());
    if (!keyMatches((*cert)[0].get(), key->get())) {
      return makeError(ErrorCode::kInvalidArgument, "{}: ca-key.pem does not belong to ca-cert.pem", d.string());
    }
    ca->key_ = std::move(*key);
    ca->cert_ = tls::upRef((*cert)[0].get());
    // cert-chain.pem is the signing cert up to the root; without it: signing cert + root.
    std::vector<tls::X509Ptr> chain;
    if (fs::exists(d / "cert-chain.pem", ec)) {
      auto chain_pem = readFile(d / "cert-chain.pem");
      if (!chain_pem) return chain_pem.error();
      auto parsed = tls::parsePemCertificates(*chain_pem);
      if (!parsed) return parsed.error().wrap((d / "cert-chain.pem").string());
      chain = std::move(*parsed);
    } else {
      chain.push_back(tls::upRef(ca->cert_.get()));
    }
    if (X509_cmp(chain.back().get(), (*root)[0].get()) != 0) chain.push_back(tls::upRef((*root)[0].get()));
    ca->chain_ = std::move(chain);
    ca->root_pem_ = tls::toPem((*root)[0].get());
    ca->source_ = "cacerts:" + d.string();
  } else {
    fs::path d = options.state_dir;
    if (d.empty()) return makeError(ErrorCode::kInvalidArgument, "the CA needs ca.state_dir (or ca.cacerts_dir)");
    fs::create_directories(d, ec);
    if (ec) return makeError(ErrorCode::kUnavailable, "cannot create {}: {}", d.string(), ec.message());
    ::chmod(d.c_str(), 0700);
    fs::path key_path = d / "root-key.pem", cert_path = d / "root-cert.pem";
    if (fs::exists(key_path, ec) && fs::exists(cert_path, ec)) {
      if (auto st = checkKeyMode(key_path); !st) return st.error();
      auto key_pem = readFile(key_path);
      auto cert_pem = readFile(cert_path);
      if (!key_pem) return key_pem.error();
      if (!cert_pem) return cert_pem.error();
      auto key = tls::parsePemPrivateKey(*key_pem);
      auto cert = tls::parsePemCertificates(*cert_pem);
      if (!key) return key.error().wrap(key_path.string());
      if (!cert) return cert.error().wrap(cert_path.string());
      if (!keyMatches((*cert)[0].get(), key->get())) {
        return makeError(ErrorCode::kInvalidArgument, "{} does not belong to {}", key_path.string(), cert_path.string());
      }
      ca->key_ = std::move(*key);
      ca->cert_ = std::move((*cert)[0]);
      ca->source_ = "loaded:" + d.string();
    } else {
      auto key = tls::generateEcKey();
      if (!key) return key.error();
      tls::CertSpec spec;
      spec.common_name = "Ambit Root CA";
      spec.is_ca = true;
      spec.not_before = Clock::now() - std::chrono::minutes(5);
      spec.not_after = Clock::now() + options.root_ttl;
      auto cert = tls::issueCertificate(spec, key->get(), nullptr, key->get());
      if (!cert) return cert.error();
      if (auto st = writeFile(key_path, tls::privateKeyToPem(key->get()), 0600); !st) return st.error();
      if (auto st = writeFile(cert_path, tls::toPem(cert->get()), 0644); !st) return st.error();
      ca->key_ = std::move(*key);
      ca->cert_ = std::move(*cert);
      ca->source_ = "generated:" + d.string();
    }
    ca->chain_.push_back(tls::upRef(ca->cert_.get()));
    ca->root_pem_ = tls::toPem(ca->cert_.get());
  }
  ca->chain_pem_ = tls::toPem(ca->chain_);
  log::info(*log::scope("ambitd.ca"), "ca_ready", "source", ca->source_, "signing_cert",
            tls::subjectName(ca->cert_.get()), "expires", tls::formatTime(ca->signingCertExpiry()));
  return ca;
}

tls::TimePoint CertificateAuthority::signingCertExpiry() const { return tls::certificateNotAfter(cert_.get()); }

Result<std::vector<std::string>> CertificateAuthority::sign(std::string_view csr_pem, const tls::Identity& identity,
                                                            std::chrono::seconds requested_ttl) const {
  auto csr = tls::parsePemCsr(csr_pem);  // also checks the CSR's self-signature
  if (!csr) return Error{ErrorCode::kInvalidArgument, "bad CSR: " + csr.error().message};
  tls::EvpPkeyPtr pub(X509_REQ_get_pubkey(csr->get()));
  if (!pub) return makeError(ErrorCode::kInvalidArgument, "bad CSR: no public key");
  int type = EVP_PKEY_get_base_id(pub.get());
  int bits = EVP_PKEY_get_bits(pub.get());
  if (!((type == EVP_PKEY_EC && bits >= 256) || (type == EVP_PKEY_RSA && bits >= 2048))) {
    return makeError(ErrorCode::kInvalidArgument, "CSR key must be ECDSA P-256 or stronger, or RSA 2048+ (got {} bits)",
                     bits);
  }
  auto ttl = requested_ttl.count() <= 0 ? options_.default_ttl : std::min(requested_ttl, options_.max_ttl);
  tls::CertSpec spec;
  spec.uri_sans = {identity.toString()};
  spec.not_before = Clock::now() - std::chrono::minutes(1);  // tolerate small clock skew between nodes
  spec.not_after = std::min(Clock::now() + ttl, signingCertExpiry());
  auto leaf = tls::issueCertificate(spec, pub.get(), cert_.get(), key_.get());
  if (!leaf) return leaf.error();
  std::vector<std::string> out{tls::toPem(leaf->get())};
  for (const auto& c : chain_) out.push_back(tls::toPem(c.get()));
  return out;
}

Result<std::pair<std::string, std::string>> CertificateAuthority::issueServing(const std::vector<std::string>& dns_names,
                                                                               std::chrono::seconds ttl) const {
  auto key = tls::generateEcKey();
  if (!key) return key.error();
  tls::CertSpec spec;
  spec.dns_sans = dns_names;
  spec.not_before = Clock::now() - std::chrono::minutes(1);
  spec.not_after = std::min(Clock::now() + ttl, signingCertExpiry());
  auto cert = tls::issueCertificate(spec, key->get(), cert_.get(), key_.get());
  if (!cert) return cert.error();
  std::string chain = tls::toPem(cert->get());
  for (const auto& c : chain_) chain += tls::toPem(c.get());
  return std::make_pair(chain, tls::privateKeyToPem(key->get()));
}

}  // namespace ambit::controlplane::ca
