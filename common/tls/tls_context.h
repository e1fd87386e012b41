// SSL_CTX factories for the mesh's mutual TLS (HBONE: TLS 1.3, ALPN h2, no SNI, no
// resumption), with our certificate chosen per handshake and peers verified as SVIDs.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ssl/context.hpp>

#include "common/base/result.h"
#include "common/tls/certificate_store.h"
#include "common/tls/openssl_ptr.h"
#include "common/tls/spiffe_id.h"
#include "common/tls/svid_verifier.h"

namespace ambit::tls {

enum class TlsVersion { kTls12, kTls13 };

struct TlsOptions {
  TlsVersion min_version = TlsVersion::kTls13;  // kTls12 only for peers that need it
  TlsVersion max_version = TlsVersion::kTls13;
  // Offered by a client in this order; a server picks the first of its own list the
  // client offered and refuses a client with no overlap or no ALPN at all. Empty = no ALPN.
  std::vector<std::string> alpn_protocols = {"h2"};
  // Server only: refuse clients without a certificate. A client always verifies the
  // server; there is no option to turn that off.
  bool require_peer_cert = true;
};

// Contexts for one side of mutual TLS. `store` provides our certificate and the trust
// roots, read at each handshake (so CertificateStore::update() affects new handshakes
// only); `trust_domain` is the only trust domain peers may come from. The context keeps
// `store` alive. Fails with kInvalidArgument when options or trust domain are invalid.
//
// The context is thread-safe to share between workers. Per-connection state lives in
// the SSL's ex_data under our own index: the SSL_CTX/SSL "app data" slots stay free for
// Boost.Asio, which uses them for its verify callback.
Result<SslCtxPtr> makeServerContext(std::shared_ptr<CertificateStore> store, TlsOptions options,
                                    std::string trust_domain);
Result<SslCtxPtr> makeClientContext(std::shared_ptr<CertificateStore> store, TlsOptions options,
                                    std::string trust_domain);

// Hands the context to Boost.Asio. boost::asio::ssl::context(SSL_CTX*) takes ownership
// and calls SSL_CTX_free in its destructor; streams built on it hold their own
// reference (SSL_new), so the asio context may go away before its streams. Do not
// call set_verify_mode/set_verify_callback on the asio context or stream: peer
// verification is already configured and must stay so.
inline boost::asio::ssl::context adoptContext(SslCtxPtr ctx) { return boost::asio::ssl::context(ctx.release()); }

// Client connections: verification also fails unless the server is `expected`
// (ztunnel checks it is talking to the destination workload). Call before the
// handshake. Fails only when out of memory.
Status setExpectedPeerIdentity(SSL* ssl, Identity expected);

// The peer's verified identity; set once its certificate passed verification, so
// read it after a successful handshake. nullopt when the peer sent no certificate
// (a server with require_peer_cert=false).
std::optional<Identity> peerIdentity(const SSL* ssl);

// Why our side refused the handshake, operator-readable: the peer's certificate
// (lastRejectReason says which rule), no common ALPN protocol, or our own certificate
// missing or expired. nullopt when our callbacks refused nothing (the failure, if any,
// was the peer's or the transport's).
std::optional<Error> lastVerifyError(const SSL* ssl);
SvidRejectReason lastRejectReason(const SSL* ssl);

// The ALPN protocol agreed on, "" if none; points into the SSL, valid while it lives.
// A client that needs h2 must check it: a server without ALPN support selects nothing.
std::string_view negotiatedAlpn(const SSL* ssl);

}  // namespace ambit::tls
