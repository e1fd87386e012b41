// Real mTLS handshakes over loopback TCP (asio::ssl::stream, async on one io_context,
// no sleeps) with the contexts from tls_context.h: what succeeds, what is refused and how.
#include "common/tls/tls_context.h"

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/test_certs.h"

namespace ambit::tls {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using namespace std::chrono_literals;
using test::TestLeaf;
using test::TestPki;
using ::testing::AnyOf;
using ::testing::HasSubstr;
using tcp = asio::ip::tcp;
using Stream = ssl::stream<tcp::socket>;
using AsioError = boost::system::error_code;

// Not a wait: a bound on a test that would otherwise hang if a handshake stalled.
constexpr auto kIoGuard = 20s;

// The OpenSSL reason inside an asio TLS error (e.g. SSL_R_TLSV1_ALERT_UNKNOWN_CA for a
// received unknown_ca alert), or -1 for other errors.
int sslReason(const AsioError& ec) {
  if (ec.category() != asio::error::get_ssl_category()) return -1;
  return ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
}

struct Side {
  std::unique_ptr<Stream> stream;
  AsioError ec;
  bool done = false;
  SSL* ssl() const { return stream->native_handle(); }
};

// Both ends of one loopback TCP connection, as TLS streams.
struct Connection {
  Side server;
  Side client;
};

class TlsHandshakeTest : public ::testing::Test {
 protected:
  TlsHandshakeTest() {
    server_store_->update(pki_.bundleFor(server_id_));
    client_store_->update(pki_.bundleFor(client_id_));
  }

  ssl::context serverContext(TlsOptions options = {}) {
    return adoptContext(test::unwrap(makeServerContext(server_store_, options, "cluster.local")));
  }
  ssl::context clientContext(TlsOptions options = {}) {
    return adoptContext(test::unwrap(makeClientContext(client_store_, options, "cluster.local")));
  }

  // A client outside our code: presents `leaf` as is (or nothing), verifies nothing, so
  // the server's checks alone decide.
  static ssl::context rawClientContext(const TestLeaf* leaf) {
    SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    EXPECT_TRUE(ctx);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    static const unsigned char kH2[] = {2, 'h', '2'};
    EXPECT_EQ(SSL_CTX_set_alpn_protos(ctx.get(), kH2, sizeof(kH2)), 0);
    if (leaf != nullptr) {
      EXPECT_EQ(SSL_CTX_use_certificate(ctx.get(), leaf->cert.get()), 1) << drainOpenSslErrors();
      EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx.get(), leaf->key.get()), 1) << drainOpenSslErrors();
      for (const auto& cert : leaf->intermediates) EXPECT_EQ(SSL_CTX_add1_chain_cert(ctx.get(), cert.get()), 1);
    }
    return adoptContext(std::move(ctx));
  }

  // Runs the io_context until no work is left (or the guard fires).
  void runIo() {
    io_.restart();
    io_.run_for(kIoGuard);
  }

  // Connects over 127.0.0.1 and runs both handshakes. `before_client` may adjust the
  // client's SSL first (expected peer, session to offer).
  std::unique_ptr<Connection> handshake(ssl::context& server_ctx, ssl::context& client_ctx,
                                        const std::function<void(SSL*)>& before_client = {}) {
    auto c = std::make_unique<Connection>();
    c->server.stream = std::make_unique<Stream>(io_, server_ctx);
    c->client.stream = std::make_unique<Stream>(io_, client_ctx);
    // The kernel completes the connect from the listen backlog, so blocking calls in
    // this order cannot deadlock.
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    c->client.stream->lowest_layer().connect(acceptor.local_endpoint());
    acceptor.accept(c->server.stream->lowest_layer());
    if (before_client) before_client(c->client.ssl());

    auto start = [](Side& side, Stream::handshake_type type) {
      side.stream->async_handshake(type, [&side](const AsioError& ec) {
        side.ec = ec;
        side.done = true;
        // A side that refused closes its socket, so the other is never left waiting.
        if (ec) {
          AsioError ignored;
          side.stream->lowest_layer().close(ignored);
        }
      });
    };
    start(c->server, Stream::server);
    start(c->client, Stream::client);
    runIo();
    EXPECT_TRUE(c->server.done && c->client.done) << "a handshake did not finish";
    return c;
  }

  // Writes `bytes` on one side and reads as many on the other; the first error, if any.
  AsioError transfer(Side& from, Side& to, const std::string& bytes) {
    std::string got(bytes.size(), '\0');
    AsioError write_ec, read_ec;
    bool wrote = false, read = false;
    asio::async_write(*from.stream, asio::buffer(bytes), [&](const AsioError& ec, std::size_t) {
      write_ec = ec;
      wrote = true;
    });
    asio::async_read(*to.stream, asio::buffer(got), [&](const AsioError& ec, std::size_t) {
      read_ec = ec;
      read = true;
    });
    runIo();
    EXPECT_TRUE(wrote && read) << "transfer did not finish";
    if (!write_ec && !read_ec) {
      EXPECT_EQ(got, bytes);
    }
    return write_ec ? write_ec : read_ec;
  }

  // What a read on `side` ends with: how the peer ended the connection.
  AsioError readError(Side& side) {
    char byte = 0;
    AsioError read_ec;
    bool read = false;
    asio::async_read(*side.stream, asio::buffer(&byte, 1), [&](const AsioError& ec, std::size_t) {
      read_ec = ec;
      read = true;
    });
    runIo();
    EXPECT_TRUE(read) << "read did not finish";
    return read_ec;
  }

  TestPki pki_{"cluster.local", "Mesh"};
  Identity server_id_ = pki_.identity("backend", "server");
  Identity client_id_ = pki_.identity("frontend", "client");
  std::shared_ptr<CertificateStore> server_store_ = std::make_shared<CertificateStore>();
  std::shared_ptr<CertificateStore> client_store_ = std::make_shared<CertificateStore>();
  asio::io_context io_;
};

TEST_F(TlsHandshakeTest, MutualTlsSucceedsAndEachSideSeesThePeerIdentity) {
  auto server_ctx = serverContext();
  auto client_ctx = clientContext();
  auto c = handshake(server_ctx, client_ctx);
  ASSERT_FALSE(c->server.ec) << c->server.ec.message();
  ASSERT_FALSE(c->client.ec) << c->client.ec.message();

  EXPECT_EQ(peerIdentity(c->server.ssl()), client_id_);
  EXPECT_EQ(peerIdentity(c->client.ssl()), server_id_);
  EXPECT_EQ(lastVerifyError(c->server.ssl()), std::nullopt);
  EXPECT_EQ(lastRejectReason(c->client.ssl()), SvidRejectReason::kNone);
  EXPECT_EQ(SSL_version(c->client.ssl()), TLS1_3_VERSION);
  EXPECT_THAT(std::string(SSL_get_cipher_name(c->client.ssl())),
              AnyOf("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"));
  EXPECT_EQ(negotiatedAlpn(c->server.ssl()), "h2");
  EXPECT_EQ(negotiatedAlpn(c->client.ssl()), "h2");
  EXPECT_EQ(SSL_get_servername(c->server.ssl(), TLSEXT_NAMETYPE_host_name), nullptr) << "client sent SNI";

  EXPECT_FALSE(transfer(c->client, c->server, "ping"));
  EXPECT_FALSE(transfer(c->server, c->client, "pong"));
}

TEST_F(TlsHandshakeTest, AcceptsLeavesIssuedDirectlyByTheRoot) {
  server_store_->update(pki_.bundle(pki_.issueLeaf(server_id_, TestPki::Issuer::kRoot)));
  client_store_->update(pki_.bundle(pki_.issueLeaf(client_id_, TestPki::Issuer::kRoot)));
  auto server_ctx = serverContext();
  auto client_ctx = clientContext();
  auto c = handshake(server_ctx, client_ctx);
  ASSERT_FALSE(c->server.ec) << c->server.ec.message();
  ASSERT_FALSE(c->client.ec) << c->client.ec.message();
  EXPECT_EQ(peerIdentity(c->server.ssl()), client_id_);
}

TEST_F(TlsHandshakeTest, ServerRequiringTls13RefusesAClientCappedAtTls12) {
  auto server_ctx = serverContext();
  auto client_ctx = clientContext({.min_version = TlsVersion::kTls12, .max_version = TlsVersion::kTls12});
  auto c = handshake(server_ctx, client_ctx);
  EXPECT_TRUE(c->server.ec);
  EXPECT_TRUE(c->client.ec);
  EXPECT_EQ(sslReason(c->server.ec), SSL_R_UNSUPPORTED_PROTOCOL) << c->server.ec.message();
  EXPECT_EQ(sslReason(c->client.ec), SSL_R_TLSV1_ALERT_PROTOCOL_VERSION) << c->client.ec.message();
  EXPECT_EQ(peerIdentity(c->server.ssl()), std::nullopt);
}

TEST_F(TlsHandshakeTest, Tls12WorksWhenTheServerOptsIn) {
  auto server_ctx = serverContext({.min_version = TlsVersion::kTls12});
  auto client_ctx = clientContext({.min_version = TlsVersion::kTls12, .max_version = TlsVersion::kTls12});
  auto c = handshake(server_ctx, client_ctx);
  ASSERT_FALSE(c->server.ec) << c->server.ec.message();
  ASSERT_FALSE(c->client.ec) << c->client.ec.message();
  EXPECT_EQ(SSL_version(c->server.ssl()), TLS1_2_VERSION);
  EXPECT_STREQ(SSL_get_cipher_name(c->server.ssl()), "ECDHE-ECDSA-AES128-GCM-SHA256");
  EXPECT_EQ(peerIdentity(c->server.ssl()), client_id_);
  EXPECT_EQ(peerIdentity(c->client.ssl()), server_id_);
  EXPECT_EQ(negotiatedAlpn(c->client.ssl()), "h2");
  EXPECT_FALSE(transfer(c->client, c->server, "ping"));
}

// A client certificate the server must refuse, and how the refusal must show.
struct BadClientCase {
  std::string name;
  std::function<TestLeaf(const TestPki&)> make;
  SvidRejectReason reason;
  int alert;  // the SSL_R_* the client reads: the alert the server sent
};

std::vector<BadClientCase> badClientCases() {
  const Identity client{"cluster.local", "frontend", "client"};
  auto withSpec = [client](std::function<void(CertSpec&)> edit) {
    return [client, edit](const TestPki& pki) {
      auto spec = pki.leafSpec(client);
      edit(spec);
      return pki.issueLeaf(spec);
    };
  };
  return {
      {"wrong trust domain", withSpec([](CertSpec& s) { s.uri_sans = {"spiffe://evil.local/ns/frontend/sa/client"}; }),
       SvidRejectReason::kWrongTrustDomain, SSL_R_SSLV3_ALERT_BAD_CERTIFICATE},
      {"DNS-only SAN",
       withSpec([](CertSpec& s) {
         s.uri_sans.clear();
         s.dns_sans = {"client.frontend.svc"};
       }),
       SvidRejectReason::kNoUriSan, SSL_R_SSLV3_ALERT_BAD_CERTIFICATE},
      {"two URI SANs", withSpec([](CertSpec& s) { s.uri_sans.push_back("spiffe://cluster.local/ns/kube-system/sa/admin"); }),
       SvidRejectReason::kMultipleUriSans, SSL_R_SSLV3_ALERT_BAD_CERTIFICATE},
      {"CA=true leaf",
       withSpec([](CertSpec& s) {
         s.is_ca = true;
         s.common_name = "client";
       }),
       SvidRejectReason::kLeafIsCa, SSL_R_SSLV3_ALERT_BAD_CERTIFICATE},
      {"expired",
       [client](const TestPki& pki) {
         auto spec = pki.leafSpec(client);
         spec.not_before = pki.now() - 2h;
         spec.not_after = pki.now() - 1h;
         return pki.issueLeaf(spec);
       },
       SvidRejectReason::kExpired, SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED},
      {"not yet valid",
       [client](const TestPki& pki) {
         auto spec = pki.leafSpec(client);
         spec.not_before = pki.now() + 1h;
         spec.not_after = pki.now() + 2h;
         return pki.issueLeaf(spec);
       },
       SvidRejectReason::kNotYetValid, SSL_R_SSLV3_ALERT_BAD_CERTIFICATE},
      {"issued by an unrelated CA",
       [client](const TestPki&) {
         TestPki rogue("cluster.local", "Rogue");
         return rogue.issueLeaf(client);
       },
       SvidRejectReason::kUntrustedChain, SSL_R_TLSV1_ALERT_UNKNOWN_CA},
  };
}

TEST_F(TlsHandshakeTest, ServerRefusesBadClientSvids) {
  auto server_ctx = serverContext();
  for (const auto& bad : badClientCases()) {
    SCOPED_TRACE(bad.name);
    TestLeaf leaf = bad.make(pki_);
    auto client_ctx = rawClientContext(&leaf);
    auto c = handshake(server_ctx, client_ctx);
    ASSERT_TRUE(c->server.ec) << "server accepted a client with " << bad.name;
    EXPECT_EQ(sslReason(c->server.ec), SSL_R_CERTIFICATE_VERIFY_FAILED) << c->server.ec.message();
    EXPECT_EQ(lastRejectReason(c->server.ssl()), bad.reason) << svidRejectReasonName(lastRejectReason(c->server.ssl()));
    auto error = lastVerifyError(c->server.ssl());
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code, ambit::ErrorCode::kUnauthenticated);
    EXPECT_EQ(peerIdentity(c->server.ssl()), std::nullopt);
    // TLS 1.3 lets the client finish first; it learns of the refusal from the alert.
    AsioError client_error = c->client.ec ? c->client.ec : readError(c->client);
    EXPECT_EQ(sslReason(client_error), bad.alert) << client_error.message();
  }
}

TEST_F(TlsHandshakeTest, ServerRefusesAClientWithoutCertificate) {
  auto server_ctx = serverContext();
  auto client_ctx = rawClientContext(nullptr);
  auto c = handshake(server_ctx, client_ctx);
  ASSERT_TRUE(c->server.ec);
  EXPECT_EQ(sslReason(c->server.ec), SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) << c->server.ec.message();
  AsioError client_error = c->client.ec ? c->client.ec : readError(c->client);
  EXPECT_EQ(sslReason(client_error), SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED) << client_error.message();
}

TEST_F(TlsHandshakeTest, ServerWithOptionalClientCertificatesAcceptsAnonymousClients) {
  auto server_ctx = serverContext({.require_peer_cert = false});
  auto client_ctx = rawClientContext(nullptr);
  auto c = handshake(server_ctx, client_ctx);
  ASSERT_FALSE(c->server.ec) << c->server.ec.message();
  EXPECT_EQ(peerIdentity(c->server.ssl()), std::nullopt);
  EXPECT_FALSE(transfer(c->client, c->server, "hello"));
}

TEST_F(TlsHandshakeTest, ClientRefusesAServerFromAnotherTrustDomain) {
  server_store_->update(pki_.bundle(pki_.issueLeaf(Identity{"other.local", "backend", "server"})));
  auto server_ctx = serverContext();
  auto client_ctx = clientContext();
  auto c = handshake(server_ctx, client_ctx);
  ASSERT_TRUE(c->client.ec);
  EXPECT_EQ(lastRejectReason(c->client.ssl()), SvidRejectReason::kWrongTrustDomain);
  ASSERT_TRUE(lastVerifyError(c->client.ssl()).has_value());
  EXPECT_THAT(lastVerifyError(c->client.ssl())->message, HasSubstr("\"other.local\""));
  EXPECT_EQ(peerIdentity(c->client.ssl()), std::nullopt);
  EXPECT_TRUE(c->server.ec);
  EXPECT_EQ(sslReason(c->server.ec), SSL_R_SSLV3_ALERT_BAD_CERTIFICATE) << c->server.ec.message();
}

TEST_F(TlsHandshakeTest, ExpectedPeerMismatchFailsOnTheClient) {
  auto server_ctx = serverContext();
  auto client_ctx = clientContext();
  Identity wanted = pki_.identity("backend", "database");
  auto c = handshake(server_ctx, client_ctx, [&](SSL* ssl) { ASSERT_TRUE(setExpectedPeerIdentity(ssl, wanted).ok()); });
  ASSERT_TRUE(c->client.ec);
  EXPECT_EQ(lastRejectReason(c->client.ssl()), SvidRejectReason::kUnexpectedIdentity);
  ASSERT_TRUE(lastVerifyError(c->client.ssl()).has_value());
  EXPECT_THAT(lastVerifyError(c->client.ssl())->message, HasSubstr(server_id_.toString()));
  EXPECT_THAT(lastVerifyError(c->client.ssl())->message, HasSubstr(wanted.toString()));
  EXPECT_EQ(peerIdentity(c->client.ssl()), std::nullopt);
  EXPECT_TRUE(c->server.ec);
}

TEST_F(TlsHandshakeTest, ExpectedPeerMatchSucceeds) {
  auto server_ctx = serverContext();
  auto client_ctx = clientContext();
  auto c = handshake(server_ctx, client_ctx,
                     [&](SSL* ssl) { ASSERT_TRUE(setExpectedPeerIdentity(ssl, server_id_).ok()); });
  ASSERT_FALSE(c->client.ec) << c->client.ec.message();
  EXPECT_EQ(peerIdentity(c->client.ssl()), server_id_);
}

TEST_F(TlsHandshakeTest, AlpnWithoutOverlapFails) {
  auto server_ctx = serverContext();
  auto client_ctx = clientContext({.alpn_protocols = {"http/1.1"}});
  auto c = handshake(server_ctx, client_ctx);
  ASSERT_TRUE(c->server.ec);
  ASSERT_TRUE(c->client.ec);
  EXPECT_EQ(sslReason(c->client.ec), SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL) << c->client.ec.message();
  ASSERT_TRUE(lastVerifyError(c->server.ssl()).has_value());
  EXPECT_THAT(lastVerifyError(c->server.ssl())->message, HasSubstr("client offered ALPN [http/1.1]"));
}

TEST_F(TlsHandshakeTest, ClientOfferingNoAlpnIsRefused) {
  auto server_ctx = serverContext();
  auto client_ctx = clientContext({.alpn_protocols = {}});
  auto c = handshake(server_ctx, client_ctx);
  ASSERT_TRUE(c->server.ec);
  ASSERT_TRUE(c->client.ec);
  EXPECT_EQ(sslReason(c->client.ec), SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL) << c->client.ec.message();
  ASSERT_TRUE(lastVerifyError(c->server.ssl()).has_value());
  EXPECT_THAT(lastVerifyError(c->server.ssl())->message, HasSubstr("offered no ALPN"));
}

TEST_F(TlsHandshakeTest, ServerPicksItsOwnPreferenceAmongOfferedProtocols) {
  auto server_ctx = serverContext({.alpn_protocols = {"h2", "http/1.1"}});
  auto client_ctx = clientContext({.alpn_protocols = {"http/1.1", "h2"}});
  auto c = handshake(server_ctx, client_ctx);
  ASSERT_FALSE(c->client.ec) << c->client.ec.message();
  EXPECT_EQ(negotiatedAlpn(c->client.ssl()), "h2");
}

// Offers connection 1's session on connection 2 and reports whether either side resumed.
class SessionResumptionTest : public TlsHandshakeTest, public ::testing::WithParamInterface<TlsVersion> {
 protected:
  TlsOptions options() const { return {.min_version = GetParam(), .max_version = GetParam()}; }

  // {client resumed, server resumed} on the second connection.
  std::pair<int, int> resumedOnSecondConnection(ssl::context& server_ctx, ssl::context& client_ctx) {
    auto first = handshake(server_ctx, client_ctx);
    EXPECT_FALSE(first->client.ec) << first->client.ec.message();
    // TLS 1.3 tickets arrive after the handshake: reading application data processes them.
    EXPECT_FALSE(transfer(first->server, first->client, "x"));
    SslSessionPtr session(SSL_get1_session(first->client.ssl()));
    EXPECT_TRUE(session);
    auto second = handshake(server_ctx, client_ctx,
                            [&](SSL* ssl) { EXPECT_EQ(SSL_set_session(ssl, session.get()), 1); });
    EXPECT_FALSE(second->client.ec) << second->client.ec.message();
    EXPECT_FALSE(second->server.ec) << second->server.ec.message();
    return {SSL_session_reused(second->client.ssl()), SSL_session_reused(second->server.ssl())};
  }
};

TEST_P(SessionResumptionTest, NoSessionIsResumed) {
  auto server_ctx = serverContext(options());
  auto client_ctx = clientContext(options());
  auto [client_resumed, server_resumed] = resumedOnSecondConnection(server_ctx, client_ctx);
  EXPECT_EQ(client_resumed, 0);
  EXPECT_EQ(server_resumed, 0);
}

// The check above can fail: the same harness does see a resumption when the server
// allows one (tickets and a session cache turned back on).
TEST_P(SessionResumptionTest, HarnessDetectsResumptionWhenTheServerAllowsIt) {
  SslCtxPtr raw = test::unwrap(makeServerContext(server_store_, options(), "cluster.local"));
  SSL_CTX_clear_options(raw.get(), SSL_OP_NO_TICKET);
  ASSERT_EQ(SSL_CTX_set_num_tickets(raw.get(), 2), 1);
  SSL_CTX_set_session_cache_mode(raw.get(), SSL_SESS_CACHE_SERVER);
  static const unsigned char kSidContext[] = "resumption-test";
  ASSERT_EQ(SSL_CTX_set_session_id_context(raw.get(), kSidContext, sizeof(kSidContext) - 1), 1);
  auto server_ctx = adoptContext(std::move(raw));
  auto client_ctx = clientContext(options());
  auto [client_resumed, server_resumed] = resumedOnSecondConnection(server_ctx, client_ctx);
  EXPECT_EQ(client_resumed, 1);
  EXPECT_EQ(server_resumed, 1);
}

INSTANTIATE_TEST_SUITE_P(Versions, SessionResumptionTest, ::testing::Values(TlsVersion::kTls13, TlsVersion::kTls12),
                         [](const auto& info) { return info.param == TlsVersion::kTls13 ? "Tls13" : "Tls12"; });

TEST_F(TlsHandshakeTest, SwappedBundleIsUsedByNewHandshakesWhileOldConnectionsKeepWorking) {
  auto server_ctx = serverContext();
  auto client_ctx = clientContext();
  auto before = handshake(server_ctx, client_ctx);
  ASSERT_FALSE(before->client.ec) << before->client.ec.message();
  ASSERT_EQ(peerIdentity(before->client.ssl()), server_id_);

  Identity rotated = pki_.identity("backend", "server-v2");
  auto new_bundle = pki_.bundleFor(rotated);
  server_store_->update(new_bundle);

  auto after = handshake(server_ctx, client_ctx);
  ASSERT_FALSE(after->client.ec) << after->client.ec.message();
  EXPECT_EQ(peerIdentity(after->client.ssl()), rotated);
  EXPECT_EQ(X509_cmp(SSL_get0_peer_certificate(after->client.ssl()), new_bundle->leaf.get()), 0);

  // The connection made before the swap still carries data both ways.
  EXPECT_FALSE(transfer(before->client, before->server, "still here"));
  EXPECT_FALSE(transfer(before->server, before->client, "and back"));
  EXPECT_EQ(peerIdentity(before->client.ssl()), server_id_);
}

TEST_F(TlsHandshakeTest, ServerWithoutCertificateFailsClosed) {
  server_store_->update(nullptr);
  auto server_ctx = serverContext();
  auto client_ctx = clientContext();
  auto c = handshake(server_ctx, client_ctx);
  EXPECT_TRUE(c->server.ec);
  EXPECT_TRUE(c->client.ec);
  ASSERT_TRUE(lastVerifyError(c->server.ssl()).has_value());
  EXPECT_THAT(lastVerifyError(c->server.ssl())->message, HasSubstr("no workload certificate"));
}

TEST_F(TlsHandshakeTest, ClientDoesNotPresentAnExpiredCertificate) {
  auto spec = pki_.leafSpec(client_id_);
  spec.not_before = pki_.now() - 2h;
  spec.not_after = pki_.now() - 1h;
  client_store_->update(pki_.bundle(pki_.issueLeaf(spec)));
  auto server_ctx = serverContext();
  auto client_ctx = clientContext();
  auto c = handshake(server_ctx, client_ctx);
  EXPECT_TRUE(c->client.ec);
  EXPECT_TRUE(c->server.ec);
  ASSERT_TRUE(lastVerifyError(c->client.ssl()).has_value());
  EXPECT_THAT(lastVerifyError(c->client.ssl())->message, HasSubstr("expired"));
  EXPECT_EQ(peerIdentity(c->server.ssl()), std::nullopt);
}

TEST(TlsContext, RefusesInvalidConfiguration) {
  auto store = std::make_shared<CertificateStore>();
  EXPECT_FALSE(makeServerContext(store, {}, "Cluster.Local").ok());
  EXPECT_FALSE(makeServerContext(store, {}, "").ok());
  EXPECT_FALSE(makeServerContext(store, {}, "cluster.local/ns").ok());
  EXPECT_FALSE(makeServerContext(nullptr, {}, "cluster.local").ok());
  EXPECT_FALSE(makeClientContext(store, {.min_version = TlsVersion::kTls13, .max_version = TlsVersion::kTls12},
                                 "cluster.local")
                   .ok());
  EXPECT_FALSE(makeClientContext(store, {.alpn_protocols = {""}}, "cluster.local").ok());
  EXPECT_FALSE(makeClientContext(store, {.alpn_protocols = {std::string(256, 'x')}}, "cluster.local").ok());
  EXPECT_TRUE(makeClientContext(store, {}, "cluster.local").ok());
}

}  // namespace
}  // namespace ambit::tls
