// Key, CSR and certificate construction with OpenSSL 3, plus PEM conversion. SANs are
// built as typed values, never as config strings, so a SAN cannot smuggle in syntax.
#include "common/tls/cert_builder.h"

#include <climits>
#include <ctime>

#include <openssl/ec.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

namespace ambit::tls {
namespace {

constexpr std::size_t kRandomSerialBytes = 16;
constexpr std::size_t kMaxSerialBytes = 20;  // RFC 5280 4.1.2.2

Error sslError(std::string_view what) {
  std::string detail = drainOpenSslErrors();
  return makeError(ErrorCode::kInternal, "{}: {}", what, detail.empty() ? "unknown OpenSSL error" : detail);
}

Error invalidSpec(std::string_view why) {
  drainOpenSslErrors();
  return makeError(ErrorCode::kInvalidArgument, "cannot issue certificate: {}", why);
}

// Never prompt on a terminal for a passphrase: encrypted keys are simply refused.
int noPassphrase(char*, int, int, void*) { return 0; }

Result<BioPtr> readBio(std::string_view pem) {
  if (pem.size() > static_cast<std::size_t>(INT_MAX)) {
    return makeError(ErrorCode::kInvalidArgument, "PEM input is too large ({} bytes)", pem.size());
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return sslError("allocating a memory BIO");
  return bio;
}

std::string bioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return {};
  return std::string(data, static_cast<std::size_t>(len));
}

// SAN values are IA5String: printable ASCII only, and never empty.
bool isValidIa5Name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7e) return false;
  }
  return true;
}

Status pushName(GENERAL_NAMES* names, int type, const std::string& value) {
  if (!isValidIa5Name(value)) {
    return makeError(ErrorCode::kInvalidArgument, "SAN \"{}\" is empty or has non-printable or non-ASCII bytes",
                     value.substr(0, 100));
  }
  ASN1_IA5STRING* str = ASN1_IA5STRING_new();
  if (str == nullptr || ASN1_STRING_set(str, value.data(), static_cast<int>(value.size())) != 1) {
    ASN1_IA5STRING_free(str);
    return sslError("building a SAN");
  }
  GENERAL_NAME* gn = GENERAL_NAME_new();
  if (gn == nullptr) {
    ASN1_IA5STRING_free(str);
    return sslError("building a SAN");
  }
  GENERAL_NAME_set0_value(gn, type, str);
  if (sk_GENERAL_NAME_push(names, gn) == 0) {
    GENERAL_NAME_free(gn);
    return sslError("building a SAN");
  }
  return okStatus();
}

Result<GeneralNamesPtr> buildSans(const std::vector<std::string>& uris, const std::vector<std::string>& dns) {
  GeneralNamesPtr names(sk_GENERAL_NAME_new_null());
  if (!names) return sslError("allocating SANs");
  for (const auto& uri : uris) {
    if (auto st = pushName(names.get(), GEN_URI, uri); !st) return st.error();
  }
  for (const auto& name : dns) {
    if (auto st = pushName(names.get(), GEN_DNS, name); !st) return st.error();
  }
  return names;
}

std::vector<std::string> namesOfType(const GENERAL_NAMES* names, int type) {
  std::vector<std::string> out;
  for (int i = 0; names != nullptr && i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    if (gn->type != type) continue;
    const ASN1_IA5STRING* s = type == GEN_URI ? gn->d.uniformResourceIdentifier : gn->d.dNSName;
    out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
  }
  return out;
}

std::vector<std::string> certificateSans(X509* cert, int type) {
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  return namesOfType(names.get(), type);
}

Result<Asn1IntegerPtr> makeSerial(const std::vector<std::uint8_t>& requested) {
  std::vector<std::uint8_t> bytes = requested;
  if (bytes.empty()) {
    bytes.resize(kRandomSerialBytes);
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) return sslError("generating a serial");
    // Top bit clear keeps it positive in DER; the next bit set keeps it 16 octets long.
    bytes[0] = static_cast<std::uint8_t>((bytes[0] & 0x7f) | 0x40);
  } else if (bytes.size() > kMaxSerialBytes) {
    return invalidSpec("the serial number is longer than 20 octets");
  }
  BignumPtr bn(BN_bin2bn(bytes.data(), static_cast<int>(bytes.size()), nullptr));
  if (!bn) return sslError("converting the serial");
  if (BN_is_zero(bn.get())) return invalidSpec("the serial number must be positive");
  Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!serial) return sslError("converting the serial");
  return serial;
}

Status addConfExtension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return sslError(fmt::format("adding extension {}", OBJ_nid2sn(nid)));
  }
  return okStatus();
}

Status checkSpec(const CertSpec& spec, EVP_PKEY* subject_pubkey, X509* issuer, EVP_PKEY* issuer_key) {
  if (subject_pubkey == nullptr || issuer_key == nullptr) {
    return invalidSpec("the subject public key and the issuer key are required");
  }
  if (spec.not_after <= spec.not_before) return invalidSpec("not_after must be later than not_before");
  if (spec.not_before.time_since_epoch().count() <= 0) return invalidSpec("not_before is not set");
  if (spec.is_ca && (!spec.common_name || spec.common_name->empty())) {
    return invalidSpec("a CA certificate needs a subject common name");
  }
  if (spec.path_len && (!spec.is_ca || *spec.path_len < 0)) {
    return invalidSpec("path_len is only for CA certificates and must not be negative");
  }
  if (!spec.is_ca && !spec.common_name && spec.uri_sans.empty() && spec.dns_sans.empty()) {
    return invalidSpec("a leaf certificate needs a common name or a SAN");
  }
  if (issuer == nullptr) {
    if (EVP_PKEY_eq(subject_pubkey, issuer_key) != 1) {
      return invalidSpec("a self-signed certificate must be signed with the subject's own key");
    }
    return okStatus();
  }
  if ((X509_get_extension_flags(issuer) & EXFLAG_CA) == 0 ||
      (X509_get_key_usage(issuer) & KU_KEY_CERT_SIGN) == 0) {
    return invalidSpec(fmt::format("the issuer ({}) is not a CA allowed to sign certificates", subjectName(issuer)));
  }
  if (X509_check_private_key(issuer, issuer_key) != 1) {
    return invalidSpec("the issuer key does not match the issuer certificate");
  }
  return okStatus();
}

TimePoint fromTm(const std::tm& tm) {
  using namespace std::chrono;
  sys_days day_start{year_month_day{year{tm.tm_year + 1900}, month{static_cast<unsigned>(tm.tm_mon + 1)},
                                    day{static_cast<unsigned>(tm.tm_mday)}}};
  return TimePoint{day_start + hours{tm.tm_hour} + minutes{tm.tm_min} + seconds{tm.tm_sec}};
}

TimePoint asn1ToTimePoint(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return TimePoint{};
  return fromTm(tm);
}

}  // namespace

Result<EvpPkeyPtr> generateEcKey() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return sslError("generating a P-256 key");
  return key;
}

Result<X509Ptr> issueCertificate(const CertSpec& spec, EVP_PKEY* subject_pubkey, X509* issuer,
                                 EVP_PKEY* issuer_key) {
  if (auto st = checkSpec(spec, subject_pubkey, issuer, issuer_key); !st) return st.error();

  X509Ptr cert(X509_new());
  if (!cert) return sslError("allocating a certificate");
  auto serial = makeSerial(spec.serial);
  if (!serial) return serial.error();
  if (X509_set_version(cert.get(), X509_VERSION_3) != 1 || X509_set_serialNumber(cert.get(), serial->get()) != 1) {
    return sslError("setting version and serial");
  }

  X509_NAME* subject = X509_get_subject_name(cert.get());
  if (spec.common_name &&
      X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(spec.common_name->data()),
                                 static_cast<int>(spec.common_name->size()), -1, 0) != 1) {
    return sslError("setting the subject");
  }
  X509_NAME* issuer_name = issuer != nullptr ? X509_get_subject_name(issuer) : subject;
  if (X509_set_issuer_name(cert.get(), issuer_name) != 1) return sslError("setting the issuer");

  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), std::chrono::system_clock::to_time_t(spec.not_before)) ==
          nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), std::chrono::system_clock::to_time_t(spec.not_after)) ==
          nullptr) {
    return sslError("setting the validity period");
  }
  if (X509_set_pubkey(cert.get(), subject_pubkey) != 1) return sslError("setting the public key");

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert.get(), cert.get(), nullptr, nullptr, 0);
  std::string basic = "critical,CA:FALSE";
  if (spec.is_ca) {
    basic = spec.path_len ? fmt::format("critical,CA:TRUE,pathlen:{}", *spec.path_len) : "critical,CA:TRUE";
  }
  const char* key_usage = spec.is_ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,keyEncipherment";
  // The SKID goes in before the AKID: a self-signed AKID copies it.
  struct ExtensionValue {
    int nid;
    const char* value;
  };
  std::vector<ExtensionValue> extensions = {{NID_basic_constraints, basic.c_str()}, {NID_key_usage, key_usage}};
  if (!spec.is_ca) extensions.push_back({NID_ext_key_usage, "serverAuth,clientAuth"});
  extensions.push_back({NID_subject_key_identifier, "hash"});
  extensions.push_back({NID_authority_key_identifier, "keyid:always"});
  for (const auto& ext : extensions) {
    if (auto st = addConfExtension(cert.get(), &ctx, ext.nid, ext.value); !st) return st.error();
  }

  if (!spec.uri_sans.empty() || !spec.dns_sans.empty()) {
    auto sans = buildSans(spec.uri_sans, spec.dns_sans);
    if (!sans) return sans.error();
    int critical = X509_NAME_entry_count(subject) == 0 ? 1 : 0;
    if (X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, sans->get(), critical, X509V3_ADD_DEFAULT) != 1) {
      return sslError("adding the subjectAltName");
    }
  }

  if (X509_sign(cert.get(), issuer_key, EVP_sha256()) <= 0) return sslError("signing the certificate");
  return cert;
}

Result<X509ReqPtr> createCsr(EVP_PKEY* key, const std::vector<std::string>& uri_sans) {
  if (key == nullptr) return makeError(ErrorCode::kInvalidArgument, "cannot create a CSR without a key");
  if (uri_sans.empty()) return makeError(ErrorCode::kInvalidArgument, "a CSR needs at least one URI SAN");
  X509ReqPtr req(X509_REQ_new());
  if (!req) return sslError("allocating a CSR");
  if (X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1 || X509_REQ_set_pubkey(req.get(), key) != 1) {
    return sslError("setting the CSR key");
  }
  auto sans = buildSans(uri_sans, {});
  if (!sans) return sans.error();
  // The subject is empty, so the SAN is critical (RFC 5280 4.2.1.6).
  X509ExtensionPtr ext(X509V3_EXT_i2d(NID_subject_alt_name, 1, sans->get()));
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  bool ok = ext && exts != nullptr && sk_X509_EXTENSION_push(exts, ext.get()) != 0;
  if (ok) {
    ok = X509_REQ_add_extensions(req.get(), exts) == 1;
    sk_X509_EXTENSION_free(exts);  // the extension is still owned by `ext`
  } else if (exts != nullptr) {
    sk_X509_EXTENSION_free(exts);
  }
  if (!ok) return sslError("adding the CSR extension request");
  if (X509_REQ_sign(req.get(), key, EVP_sha256()) <= 0) return sslError("signing the CSR");
  return req;
}

Result<std::vector<std::string>> csrUriSans(X509_REQ* csr) {
  if (csr == nullptr) return makeError(ErrorCode::kInvalidArgument, "no CSR");
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(csr);
  std::vector<std::string> out;
  bool seen = false;
  for (int i = 0; exts != nullptr && i < sk_X509_EXTENSION_num(exts); ++i) {
    X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
    if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name) continue;
    if (seen) {
      sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
      return makeError(ErrorCode::kInvalidArgument, "the CSR requests more than one subjectAltName extension");
    }
    seen = true;
    GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(X509V3_EXT_d2i(ext)));
    if (!names) {
      sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
      drainOpenSslErrors();
      return makeError(ErrorCode::kInvalidArgument, "the CSR's subjectAltName extension does not decode");
    }
    out = namesOfType(names.get(), GEN_URI);
  }
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  return out;
}

std::vector<std::string> certificateUriSans(X509* cert) { return certificateSans(cert, GEN_URI); }
std::vector<std::string> certificateDnsSans(X509* cert) { return certificateSans(cert, GEN_DNS); }

TimePoint certificateNotBefore(X509* cert) { return asn1ToTimePoint(X509_get0_notBefore(cert)); }
TimePoint certificateNotAfter(X509* cert) { return asn1ToTimePoint(X509_get0_notAfter(cert)); }

std::string formatTime(TimePoint t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string subjectName(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || cert == nullptr) return {};
  X509_NAME_print_ex(bio.get(), X509_get_subject_name(cert), 0, XN_FLAG_RFC2253);
  std::string out = bioContents(bio.get());
  return out.empty() ? "(empty subject)" : out;
}

Result<std::vector<X509Ptr>> parsePemCertificates(std::string_view pem) {
  auto bio = readBio(pem);
  if (!bio) return bio.error();
  std::vector<X509Ptr> certs;
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio->get(), nullptr, noPassphrase, nullptr));
    if (cert) {
      certs.push_back(std::move(cert));
      continue;
    }
    unsigned long err = ERR_peek_last_error();
    bool at_end = ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
    if (at_end && !certs.empty()) {
      ERR_clear_error();
      return certs;
    }
    if (at_end) {
      ERR_clear_error();
      return makeError(ErrorCode::kInvalidArgument, "no PEM CERTIFICATE block found");
    }
    return makeError(ErrorCode::kInvalidArgument, "PEM certificate {} does not decode: {}", certs.size() + 1,
                     drainOpenSslErrors());
  }
}

Result<EvpPkeyPtr> parsePemPrivateKey(std::string_view pem) {
  auto bio = readBio(pem);
  if (!bio) return bio.error();
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio->get(), nullptr, noPassphrase, nullptr));
  if (!key) {
    return makeError(ErrorCode::kInvalidArgument, "no usable PEM private key (encrypted keys are not supported): {}",
                     drainOpenSslErrors());
  }
  return key;
}

Result<X509ReqPtr> parsePemCsr(std::string_view pem) {
  auto bio = readBio(pem);
  if (!bio) return bio.error();
  X509ReqPtr req(PEM_read_bio_X509_REQ(bio->get(), nullptr, noPassphrase, nullptr));
  if (!req) return makeError(ErrorCode::kInvalidArgument, "no PEM CERTIFICATE REQUEST found: {}", drainOpenSslErrors());
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req.get());
  if (pub == nullptr || X509_REQ_verify(req.get(), pub) != 1) {
    drainOpenSslErrors();
    return makeError(ErrorCode::kInvalidArgument, "the CSR's signature does not verify with its own public key");
  }
  return req;
}

std::string toPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    drainOpenSslErrors();
    return {};
  }
  return bioContents(bio.get());
}

std::string toPem(const std::vector<X509Ptr>& certs) {
  std::string out;
  for (const auto& cert : certs) out += toPem(cert.get());
  return out;
}

std::string toPem(X509_REQ* csr) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_REQ(bio.get(), csr) != 1) {
    drainOpenSslErrors();
    return {};
  }
  return bioContents(bio.get());
}

std::string privateKeyToPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    drainOpenSslErrors();
    return {};
  }
  return bioContents(bio.get());
}

}  // namespace ambit::tls
