// SSL_CTX setup for mesh mTLS and its OpenSSL callbacks, which never throw (C frames) and
// restore the error queue, so asio reports OpenSSL's own reason for a failed handshake.
#include "common/tls/tls_context.h"

#include <chrono>
#include <cstring>
#include <new>

#include <fmt/format.h>

namespace ambit::tls {
namespace {

constexpr const char* kTls13Suites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384";
// Mesh keys are ECDSA P-256, so TLS 1.2 needs only the ECDSA suites.
constexpr const char* kTls12Ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384";
constexpr const char* kGroups = "P-256:X25519";

// Shared, immutable configuration of one SSL_CTX; owned by the SSL_CTX's ex_data.
struct ContextConfig {
  std::shared_ptr<CertificateStore> store;
  std::string trust_domain;
  std::vector<std::string> alpn;
};

// Per-connection state; owned by the SSL's ex_data, created on first use.
struct ConnectionState {
  std::optional<Identity> expected_peer;
  std::shared_ptr<const CertBundle> bundle;  // pinned at the first callback of the handshake
  std::optional<Identity> peer;
  std::optional<Error> error;
  SvidRejectReason reason = SvidRejectReason::kNone;
};

void freeContextConfig(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<ContextConfig*>(ptr);
}

void freeConnectionState(void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<ConnectionState*>(ptr);
}

// SSL_dup copies ex_data pointers; give the copy its own state so each SSL frees its own.
int dupConnectionState(CRYPTO_EX_DATA*, const CRYPTO_EX_DATA*, void** from_d, int, long, void*) {
  if (from_d == nullptr || *from_d == nullptr) return 1;
  try {
    *from_d = new ConnectionState(*static_cast<ConnectionState*>(*from_d));
    return 1;
  } catch (...) {
    *from_d = nullptr;
    return 0;
  }
}

int contextIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, freeContextConfig);
  return index;
}

int connectionIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, dupConnectionState, freeConnectionState);
  return index;
}

ConnectionState* findState(const SSL* ssl) {
  return static_cast<ConnectionState*>(SSL_get_ex_data(ssl, connectionIndex()));
}

ConnectionState* stateOf(SSL* ssl) {
  if (ConnectionState* state = findState(ssl)) return state;
  auto* state = new (std::nothrow) ConnectionState();
  if (state == nullptr) return nullptr;
  if (SSL_set_ex_data(ssl, connectionIndex(), state) != 1) {
    delete state;
    return nullptr;
  }
  return state;
}

// Pops errors our code pushed, so only OpenSSL's own reason reaches the caller.
class ErrorQueueGuard {
 public:
  ErrorQueueGuard() { ERR_set_mark(); }
  ~ErrorQueueGuard() { ERR_pop_to_mark(); }
  ErrorQueueGuard(const ErrorQueueGuard&) = delete;
  ErrorQueueGuard& operator=(const ErrorQueueGuard&) = delete;
};

const std::shared_ptr<const CertBundle>& pinnedBundle(ConnectionState& state, const ContextConfig& config) {
  if (!state.bundle) state.bundle = config.store->current();
  return state.bundle;
}

std::string joinProtocols(const std::vector<std::string>& protocols) {
  std::string out;
  for (const auto& p : protocols) out += (out.empty() ? "" : ", ") + p;
  return "[" + out + "]";
}

// A client's ALPN list (wire format: length-prefixed names) for a message: names come
// from the network, so non-printable bytes are escaped and the list is capped.
std::vector<std::string> decodeAlpnList(const unsigned char* in, unsigned int len) {
  constexpr std::size_t kMaxNames = 16;
  std::vector<std::string> out;
  for (unsigned int i = 0; i < len && out.size() < kMaxNames;) {
    unsigned int n = in[i];
    if (n == 0 || i + 1 + n > len) break;
    std::string name;
    for (unsigned int j = i + 1; j < i + 1 + n; ++j) {
      if (in[j] < 0x20 || in[j] > 0x7e) {
        name += fmt::format("\\x{:02x}", in[j]);
      } else {
        name += static_cast<char>(in[j]);
      }
    }
    out.push_back(std::move(name));
    i += 1 + n;
  }
  return out;
}

// Presents the store's current bundle; called by OpenSSL before a server uses a
// certificate and when a server asks the client for one.
int certCallback(SSL* ssl, void* arg) {
  ErrorQueueGuard guard;
  try {
    const auto* config = static_cast<const ContextConfig*>(arg);
    ConnectionState* state = stateOf(ssl);
    if (state == nullptr) return 0;
    const auto& bundle = pinnedBundle(*state, *config);
    if (!bundle) {
      state->error = makeError(ErrorCode::kUnavailable,
                               "no workload certificate loaded yet; refusing the handshake until the CA issues one");
      return 0;
    }
    auto now = std::chrono::system_clock::now();
    if (now >= bundle->not_after) {
      state->error = makeError(ErrorCode::kUnavailable,
                               "our certificate for {} expired at {}; refusing to present it (is the CA reachable?)",
                               bundle->identity.toString(), formatTime(bundle->not_after));
      return 0;
    }
    X509StackPtr chain(sk_X509_new_null());
    if (!chain) return 0;
    for (const auto& cert : bundle->chain) {
      X509Ptr ref = upRef(cert.get());
      if (sk_X509_push(chain.get(), ref.get()) == 0) return 0;
      ref.release();
    }
    // Per-SSL: the SSL_CTX and other connections keep whatever they use.
    if (SSL_use_cert_and_key(ssl, bundle->leaf.get(), bundle->key.get(), chain.get(), 1) != 1) {
      state->error = makeError(ErrorCode::kInternal, "cannot use our certificate: {}", drainOpenSslErrors());
      return 0;
    }
    return 1;
  } catch (...) {
    return 0;
  }
}

// Replaces OpenSSL's chain verification with verifySvid against the pinned bundle's roots.
int verifyCallback(X509_STORE_CTX* x509_ctx, void* arg) {
  ErrorQueueGuard guard;
  try {
    const auto* config = static_cast<const ContextConfig*>(arg);
    auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(x509_ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
    ConnectionState* state = ssl != nullptr ? stateOf(ssl) : nullptr;
    if (state == nullptr) {
      X509_STORE_CTX_set_error(x509_ctx, X509_V_ERR_OUT_OF_MEM);
      return 0;
    }
    const auto& bundle = pinnedBundle(*state, *config);
    if (!bundle) {
      state->error = makeError(ErrorCode::kUnavailable, "no trust bundle loaded yet; cannot verify the peer");
      X509_STORE_CTX_set_error(x509_ctx, X509_V_ERR_APPLICATION_VERIFICATION);
      return 0;
    }
    SvidRejection rejection;
    auto identity = verifySvid(X509_STORE_CTX_get0_cert(x509_ctx), X509_STORE_CTX_get0_untrusted(x509_ctx),
                               bundle->roots, config->trust_domain, std::chrono::system_clock::now(), &rejection);
    if (identity && state->expected_peer && *identity != *state->expected_peer) {
      rejection = SvidRejection{SvidRejectReason::kUnexpectedIdentity, X509_V_ERR_CERT_REJECTED};
      identity = makeError(ErrorCode::kUnauthenticated, "peer is {}, but this connection expects {}",
                           identity->toString(), state->expected_peer->toString());
    }
    if (!identity) {
      state->reason = rejection.reason;
      state->error = identity.error();
      X509_STORE_CTX_set_error(x509_ctx, rejection.x509_error);
      return 0;
    }
    state->peer = std::move(identity).value();
    X509_STORE_CTX_set_error(x509_ctx, X509_V_OK);
    return 1;
  } catch (...) {
    X509_STORE_CTX_set_error(x509_ctx, X509_V_ERR_UNSPECIFIED);
    return 0;
  }
}

// Server: the first protocol of our list the client offered; none is fatal.
int alpnSelectCallback(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                       unsigned int inlen, void* arg) {
  ErrorQueueGuard guard;
  try {
    const auto* config = static_cast<const ContextConfig*>(arg);
    for (const auto& ours : config->alpn) {
      for (unsigned int i = 0; i < inlen;) {
        unsigned int n = in[i];
        if (i + 1 + n > inlen) break;
        if (n == ours.size() && std::memcmp(in + i + 1, ours.data(), n) == 0) {
          *out = in + i + 1;
          *outlen = static_cast<unsigned char>(n);
          return SSL_TLSEXT_ERR_OK;
        }
        i += 1 + n;
      }
    }
    if (ConnectionState* state = stateOf(ssl)) {
      state->error = makeError(ErrorCode::kUnauthenticated, "client offered ALPN {}, but this server accepts only {}",
                               joinProtocols(decodeAlpnList(in, inlen)), joinProtocols(config->alpn));
    }
  } catch (...) {
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

// Server: a client that offers no ALPN at all is refused too (the select callback
// only runs when ALPN was offered).
int clientHelloCallback(SSL* ssl, int* alert, void* arg) {
  ErrorQueueGuard guard;
  const unsigned char* data = nullptr;
  std::size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &data, &len) == 1) {
    return SSL_CLIENT_HELLO_SUCCESS;
  }
  try {
    const auto* config = static_cast<const ContextConfig*>(arg);
    if (ConnectionState* state = stateOf(ssl)) {
      state->error = makeError(ErrorCode::kUnauthenticated, "client offered no ALPN; this server requires one of {}",
                               joinProtocols(config->alpn));
    }
  } catch (...) {
  }
  *alert = SSL_AD_NO_APPLICATION_PROTOCOL;
  return SSL_CLIENT_HELLO_ERROR;
}

int protocolVersion(TlsVersion v) { return v == TlsVersion::kTls12 ? TLS1_2_VERSION : TLS1_3_VERSION; }

Status checkInputs(const std::shared_ptr<CertificateStore>& store, const TlsOptions& options,
                   const std::string& trust_domain) {
  if (!store) return makeError(ErrorCode::kInvalidArgument, "TLS context needs a certificate store");
  auto parsed = parseSpiffeTrustDomain("spiffe://" + trust_domain);
  if (!parsed || *parsed != trust_domain) {
    return makeError(ErrorCode::kInvalidArgument,
                     "trust domain \"{}\" is not valid: use lowercase letters, digits, '.', '-' and '_'",
                     trust_domain.substr(0, 100));
  }
  if (protocolVersion(options.min_version) > protocolVersion(options.max_version)) {
    return makeError(ErrorCode::kInvalidArgument, "TLS min_version is above max_version");
  }
  for (const auto& p : options.alpn_protocols) {
    if (p.empty() || p.size() > 255) {
      return makeError(ErrorCode::kInvalidArgument, "ALPN protocol names must be 1 to 255 bytes long");
    }
  }
  return okStatus();
}

Result<SslCtxPtr> makeContext(bool server, std::shared_ptr<CertificateStore> store, TlsOptions options,
                              std::string trust_domain) {
  if (auto st = checkInputs(store, options, trust_domain); !st) return st.error();
  SslCtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  if (!ctx) return makeError(ErrorCode::kInternal, "SSL_CTX_new failed: {}", drainOpenSslErrors());

  // Owned by the SSL_CTX from here on (freed by freeContextConfig), also on the error paths below.
  auto* config = new ContextConfig{std::move(store), std::move(trust_domain), options.alpn_protocols};
  if (contextIndex() < 0 || SSL_CTX_set_ex_data(ctx.get(), contextIndex(), config) != 1) {
    delete config;
    return makeError(ErrorCode::kInternal, "SSL_CTX_set_ex_data failed: {}", drainOpenSslErrors());
  }
  if (connectionIndex() < 0) return makeError(ErrorCode::kInternal, "SSL_get_ex_new_index failed");

  bool ok = SSL_CTX_set_min_proto_version(ctx.get(), protocolVersion(options.min_version)) == 1 &&
            SSL_CTX_set_max_proto_version(ctx.get(), protocolVersion(options.max_version)) == 1 &&
            SSL_CTX_set_ciphersuites(ctx.get(), kTls13Suites) == 1 &&
            SSL_CTX_set_cipher_list(ctx.get(), kTls12Ciphers) == 1 &&
            SSL_CTX_set1_groups_list(ctx.get(), kGroups) == 1;
  if (!ok) return makeError(ErrorCode::kInternal, "configuring TLS versions and ciphers: {}", drainOpenSslErrors());

  // No resumption of any kind: every connection proves its certificate afresh, so a
  // rotated or revoked identity never rides on an old session.
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                     SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  if (SSL_CTX_set_num_tickets(ctx.get(), 0) != 1) {
    return makeError(ErrorCode::kInternal, "disabling session tickets: {}", drainOpenSslErrors());
  }

  int verify_mode = SSL_VERIFY_PEER;
  if (server && options.require_peer_cert) verify_mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(ctx.get(), verify_mode, nullptr);
  SSL_CTX_set_cert_verify_callback(ctx.get(), verifyCallback, config);
  SSL_CTX_set_cert_cb(ctx.get(), certCallback, config);

  if (!options.alpn_protocols.empty()) {
    if (server) {
      SSL_CTX_set_alpn_select_cb(ctx.get(), alpnSelectCallback, config);
      SSL_CTX_set_client_hello_cb(ctx.get(), clientHelloCallback, config);
    } else {
      std::string wire;
      for (const auto& p : options.alpn_protocols) {
        wire += static_cast<char>(p.size());
        wire += p;
      }
      // Unlike most of OpenSSL, 0 means success here.
      if (SSL_CTX_set_alpn_protos(ctx.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                                  static_cast<unsigned int>(wire.size())) != 0) {
        return makeError(ErrorCode::kInternal, "setting ALPN: {}", drainOpenSslErrors());
      }
    }
  }
  return ctx;
}

}  // namespace

Result<SslCtxPtr> makeServerContext(std::shared_ptr<CertificateStore> store, TlsOptions options,
                                    std::string trust_domain) {
  return makeContext(true, std::move(store), std::move(options), std::move(trust_domain));
}

Result<SslCtxPtr> makeClientContext(std::shared_ptr<CertificateStore> store, TlsOptions options,
                                    std::string trust_domain) {
  return makeContext(false, std::move(store), std::move(options), std::move(trust_domain));
}

Status setExpectedPeerIdentity(SSL* ssl, Identity expected) {
  ConnectionState* state = ssl != nullptr ? stateOf(ssl) : nullptr;
  if (state == nullptr) return makeError(ErrorCode::kResourceExhausted, "cannot allocate TLS connection state");
  state->expected_peer = std::move(expected);
  return okStatus();
}

std::optional<Identity> peerIdentity(const SSL* ssl) {
  const ConnectionState* state = ssl != nullptr ? findState(ssl) : nullptr;
  return state != nullptr ? state->peer : std::nullopt;
}

std::optional<Error> lastVerifyError(const SSL* ssl) {
  const ConnectionState* state = ssl != nullptr ? findState(ssl) : nullptr;
  return state != nullptr ? state->error : std::nullopt;
}

SvidRejectReason lastRejectReason(const SSL* ssl) {
  const ConnectionState* state = ssl != nullptr ? findState(ssl) : nullptr;
  return state != nullptr ? state->reason : SvidRejectReason::kNone;
}

std::string_view negotiatedAlpn(const SSL* ssl) {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  if (ssl != nullptr) SSL_get0_alpn_selected(ssl, &data, &len);
  return data != nullptr ? std::string_view(reinterpret_cast<const char*>(data), len) : std::string_view();
}

}  // namespace ambit::tls
