// Inbound: HBONE on 15008 (mTLS with the destination workload's certificate,
// then per CONNECT: validate, authorize, connect to the app, 200, copy) and
// plaintext on 15006 (authorize without a peer identity).
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/hbone/authority.h"
#include "common/hbone/tls_io.h"
#include "common/log/log.h"
#include "common/tls/tls_context.h"
#include "ztunnel/outbound/decide.h"
#include "ztunnel/proxy/proxy.h"

namespace ambit::ztunnel::proxy {

namespace {

std::string endpointText(const tcp::endpoint& ep) { return hbone::formatAuthority(ep.address(), ep.port()); }

bool hasAddress(const istio::workload::Workload& w, const std::string& raw) {
  for (const auto& a : w.addresses()) {
    if (a == raw) return true;
  }
  return false;
}

}  // namespace

asio::awaitable<void> Proxy::serveHbone(tcp::socket& socket, runtime::ConnectionContext& ctx, std::string uid) {
  static auto logger = log::scope("ztunnel.inbound");
  std::shared_ptr<asio::ssl::context> ssl_ctx;
  std::optional<tls::Identity> id;
  std::shared_ptr<netns::Netns> ns;
  {
    std::lock_guard lock(mu_);
    auto it = local_.find(uid);
    if (it != local_.end()) {
      ssl_ctx = it->second.server_ctx;
      id = it->second.identity;
      ns = it->second.netns;
    }
  }
  if (!ssl_ctx) co_return;
  // A workload's traffic waits for its first certificate (then fails closed).
  if (!co_await identities_.ready(*id, config_.certificate_wait)) {
    log::warn(*logger, "hbone_no_certificate", "workload", uid, "identity", id->toString());
    co_return;
  }
  boost::system::error_code ec;
  auto peer_ep = socket.remote_endpoint(ec);
  hbone::TlsStream tls(std::move(socket), *ssl_ctx);
  auto st = co_await hbone::acceptTls(tls, config_.handshake_timeout);
  if (!st) {
    auto reason = tls::lastRejectReason(tls.native_handle());
    metrics_.handshake_failures.get({tls::svidRejectReasonName(reason)})->inc();
    log::info(*logger, "hbone_handshake_refused", "src", endpointText(peer_ep), "workload", uid, "error",
              st.error().message);
    co_return;
  }
  auto peer = tls::peerIdentity(tls.native_handle());
  auto conn = hbone::Connection::create(
      std::move(tls), hbone::Connection::Role::kServer, config_.server_limits,
      [this, uid, peer, peer_ep, ns](std::shared_ptr<hbone::Stream> s) {
        return handleConnect(s, uid, peer, peer_ep, ns);
      });
  co_await hbone::runDraining(std::move(conn), service_.drain());
  (void)ctx;
}

asio::awaitable<void> Proxy::handleConnect(std::shared_ptr<hbone::Stream> stream, std::string uid,
                                           std::optional<tls::Identity> peer, tcp::endpoint peer_ep,
                                           std::shared_ptr<netns::Netns> ns) {
  static auto logger = log::scope("ztunnel.inbound");
  auto started = std::chrono::steady_clock::now();
  auto state = state_.current();
  auto dst = state->workloadByUid(uid);
  auto target = hbone::parseAuthority(stream->authority());  // validated by the HBONE server
  auto rec = std::make_shared<ConnectionRecord>();
  rec->direction = "inbound";
  rec->destination = stream->authority();
  rec->source_identity = peer ? peer->toString() : "";
  rec->destination_workload = uid;
  rec->via = "hbone";
  // The client's address: the forwarded header its node proxy set (the HBONE
  // peer is that proxy), else the peer itself. The header is the peer's word:
  // it is believed only when it names a workload with the peer's own identity,
  // so no peer can borrow another workload's address for source_ips policy.
  auto src_ip = clientAddress(*state, config_.network, peer, peer_ep, stream->header("forwarded"));
  rec->source = src_ip.to_string();

  telemetry::ConnectionFacts facts;
  facts.reporter = telemetry::Reporter::kDestination;
  auto src_w = state->workloadByAddress(config_.network, rawIp(src_ip));
  facts.source = src_w.get();
  facts.source_principal = peer;
  facts.destination = dst.get();
  if (dst) facts.destination_principal = identityOf(*dst);
  facts.mutual_tls = true;

  if (!dst || !target || !hasAddress(*dst, rawIp(target->ip))) {
    // hardening.md 3: only the workload this listener serves is a valid target.
    stream->respond(400);
    accessLog(*rec, "rejected", "authority is not an address of " + uid, started);
    co_return;
  }
  rec->authz = authz::Connection{peer, rawIp(src_ip), rawIp(target->ip), target->port};
  rec->enforced = true;
  auto decision = authz::decide(state->policies().applicable(*dst), rec->authz);
  if (decision.dry_run_allowed) {
    log::info(*logger, "authz_dry_run", "src", rec->source, "dst", rec->destination, "would_allow",
              *decision.dry_run_allowed, "reason", decision.dry_run_reason);
  }
  if (!decision.allowed) {
    stream->respond(401);
    facts.flag = telemetry::ResponseFlag::kDeny;
    countRefused(facts, *rec);
    accessLog(*rec, "denied", decision.reason, started);
    co_return;
  }
  tcp::endpoint app_ep(target->ip, target->port);
  auto made = newSocket(stream->connection().executor(), app_ep.protocol(), ns.get());
  if (!made) {
    stream->respond(503);
    accessLog(*rec, "upstream_failed", made.error().message, started);
    co_return;
  }
  auto upstream = std::make_shared<tcp::socket>(std::move(*made));
  auto ec = co_await connectWithin(*upstream, app_ep, config_.connect_timeout);
  if (ec) {
    stream->respond(503);
    facts.flag = telemetry::ResponseFlag::kConnect;
    countRefused(facts, *rec);
    accessLog(*rec, "upstream_failed", ec.message(), started);
    co_return;
  }
  stream->respond(200);
  auto ex = stream->connection().executor();
  std::weak_ptr<hbone::Stream> weak_stream = stream;
  std::weak_ptr<tcp::socket> weak_up = upstream;
  rec->cut = [ex, weak_stream, weak_up](const std::string&) {
    asio::post(ex, [weak_stream, weak_up] {
      if (auto s = weak_stream.lock()) s->reset();
      if (auto u = weak_up.lock()) {
        boost::system::error_code ignored;
        u->close(ignored);
      }
    });
  };
  auto handle = connections_.add(rec);
  auto labels = telemetry::tcpLabelValues(facts);
  countOpened(labels);
  auto outcome = co_await hbone::copyBidirectional(*upstream, *stream, rec->bytes_to_source,
                                                   rec->bytes_to_destination, config_.copy_buffer);
  countClosed(labels, *rec);
  accessLog(*rec, outcome.clean ? "closed" : "error", outcome.error, started);
}

asio::awaitable<void> Proxy::servePlaintext(tcp::socket& socket, runtime::ConnectionContext& ctx, std::string uid,
                                            std::shared_ptr<netns::Netns> ns) {
  (void)ctx;
  static auto logger = log::scope("ztunnel.inbound");
  auto started = std::chrono::steady_clock::now();
  boost::system::error_code ec;
  auto peer_ep = socket.remote_endpoint(ec);
  // With capture the original destination is the app's address. Dialled
  // directly, it is one of our own ports: a loop we refuse (hardening.md 14).
  auto orig = originalDestination(socket);
  if (ec || !orig || orig->port() == config_.inbound_plaintext_port || orig->port() == config_.hbone_port ||
      (config_.inpod && orig->port() == config_.outbound_port)) {
    co_return;
  }
  auto local_ep = *orig;
  auto state = state_.current();
  auto dst = state->workloadByUid(uid);
  auto rec = std::make_shared<ConnectionRecord>();
  rec->direction = "inbound_plaintext";
  rec->source = endpointText(peer_ep);
  rec->destination = endpointText(local_ep);
  rec->destination_workload = uid;
  rec->via = "plaintext";
  telemetry::ConnectionFacts facts;
  facts.reporter = telemetry::Reporter::kDestination;
  auto src_w = state->workloadByAddress(config_.network, rawIp(peer_ep.address()));
  facts.source = src_w.get();
  facts.destination = dst.get();
  if (!dst) co_return;
  if (!hasAddress(*dst, rawIp(local_ep.address()))) {
    // Only this workload is served here: anything else steered to 15006
    // (another address on the pod's link) would make the pod a relay.
    accessLog(*rec, "rejected", "destination is not an address of " + uid, started);
    co_return;
  }
  facts.destination_principal = identityOf(*dst);
  rec->authz = authz::Connection{std::nullopt, rawIp(peer_ep.address()), rawIp(local_ep.address()), local_ep.port()};
  rec->enforced = true;
  auto decision = authz::decide(state->policies().applicable(*dst), rec->authz);
  if (!decision.allowed) {
    facts.flag = telemetry::ResponseFlag::kDeny;
    countRefused(facts, *rec);
    accessLog(*rec, "denied", decision.reason, started);
    co_return;
  }
  auto made = newSocket(socket.get_executor(), local_ep.protocol(), ns.get());
  if (!made) {
    accessLog(*rec, "upstream_failed", made.error().message, started);
    co_return;
  }
  auto upstream = std::make_shared<tcp::socket>(std::move(*made));
  ec = co_await connectWithin(*upstream, local_ep, config_.connect_timeout);
  if (ec) {
    facts.flag = telemetry::ResponseFlag::kConnect;
    countRefused(facts, *rec);
    accessLog(*rec, "upstream_failed", ec.message(), started);
    co_return;
  }
  auto ex = socket.get_executor();
  std::weak_ptr<tcp::socket> weak_up = upstream;
  tcp::socket* client = &socket;
  auto alive = std::make_shared<bool>(true);
  std::weak_ptr<bool> weak_alive = alive;
  rec->cut = [ex, weak_up, client, weak_alive](const std::string&) {
    asio::post(ex, [weak_up, client, weak_alive] {
      if (weak_alive.expired()) return;
      boost::system::error_code ignored;
      client->close(ignored);
      if (auto u = weak_up.lock()) u->close(ignored);
    });
  };
  auto handle = connections_.add(rec);
  auto labels = telemetry::tcpLabelValues(facts);
  countOpened(labels);
  auto outcome = co_await hbone::copyBidirectional(socket, *upstream, rec->bytes_to_destination, rec->bytes_to_source,
                                                   config_.copy_buffer);
  countClosed(labels, *rec);
  accessLog(*rec, outcome.clean ? "closed" : "error", outcome.error, started);
}

}  // namespace ambit::ztunnel::proxy
