// Outbound: a local workload's connection (SOCKS5 in shared mode) goes where
// outbound::decide says: HBONE through the pool with the source workload's
// certificate, plain TCP passthrough, or refused.
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "common/hbone/authority.h"
#include "common/hbone/tls_io.h"
#include "common/hbone/tunnel.h"
#include "common/log/log.h"
#include "ztunnel/outbound/decide.h"
#include "ztunnel/proxy/proxy.h"
#include "ztunnel/proxy/socks5.h"

namespace ambit::ztunnel::proxy {

namespace {

// A W3C traceparent for a new trace: version 00, random trace and span ids, sampled.
std::string newTraceparent() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return fmt::format("00-{:016x}{:016x}-{:016x}-01", rng(), rng(), rng() | 1);
}

}  // namespace

asio::awaitable<Result<hbone::TlsStream>> Proxy::dialHbone(asio::any_io_executor ex, std::shared_ptr<netns::Netns> ns,
                                                          std::shared_ptr<asio::ssl::context> ssl_ctx,
                                                          tcp::endpoint ep, tls::Identity expected) {
  auto made = newSocket(ex, ep.protocol(), ns.get());
  if (!made) co_return made.error();
  // Made outside the co_await: no temporaries in it (GCC 12).
  auto dial = hbone::dialTls(std::move(*made), *ssl_ctx, ep, expected, config_.connect_timeout);
  auto result = co_await std::move(dial);
  co_return result;
}

asio::awaitable<void> Proxy::serveSocks5(tcp::socket& socket, runtime::ConnectionContext& ctx) {
  static auto logger = log::scope("ztunnel.outbound");
  boost::system::error_code ec;
  auto peer = socket.remote_endpoint(ec);
  if (ec) co_return;
  auto target = co_await socks5::accept(socket, config_.handshake_timeout);
  if (!target) {
    log::debug(*logger, "socks5_refused", "src", peer.address().to_string(), "error", target.error().message);
    co_return;
  }
  auto state = state_.current();
  auto source = state->workloadByAddress(config_.network, rawIp(peer.address()));
  if (!source || source->node() != config_.node_name) {
    // Only this node's workloads send through this proxy, with their own identity.
    log::warn(*logger, "outbound_unknown_source", "src", peer.address().to_string(), "detail",
              source ? "workload runs on node " + source->node() : "not a workload of this node");
    co_await socks5::reply(socket, socks5::kNotAllowed);
    co_return;
  }
  // A named object, not a temporary, in the co_await expression (GCC 12).
  Reply reply = [&socket](uint8_t code) { return socks5::reply(socket, code); };
  co_await outbound(socket, ctx, source, target->ip, target->port, reply, nullptr);
}

asio::awaitable<void> Proxy::outbound(tcp::socket& app, runtime::ConnectionContext& ctx, WorkloadPtr source,
                                      std::string dst_ip, uint16_t dst_port, Reply reply,
                                      std::shared_ptr<netns::Netns> ns) {
  static auto logger = log::scope("ztunnel.outbound");
  auto started = std::chrono::steady_clock::now();
  auto state = state_.current();
  auto req = outbound::decide(*state, *source, dst_ip, dst_port,
                              [this](std::size_t n) { return round_robin_.fetch_add(1, std::memory_order_relaxed) % n; });
  boost::system::error_code ec;
  auto app_ep = app.remote_endpoint(ec);
  auto src_id = identityOf(*source);

  auto rec = std::make_shared<ConnectionRecord>();
  rec->direction = "outbound";
  rec->source = hbone::formatAuthority(app_ep.address(), app_ep.port());
  rec->destination = outbound::hostPort(dst_ip, dst_port);
  rec->source_identity = src_id.toString();
  rec->destination_workload = req.destination ? req.destination->uid() : "";
  telemetry::ConnectionFacts facts;
  facts.reporter = telemetry::Reporter::kSource;
  facts.source = source.get();
  facts.source_principal = src_id;
  facts.destination = req.destination.get();
  facts.service = req.service.get();
  facts.destination_service_fallback = req.service ? "" : rec->destination;

  if (req.kind == outbound::Request::Kind::kRefuse) {
    co_await reply(socks5::kHostUnreachable);
    accessLog(*rec, "refused", req.reason, started);
    co_return;
  }

  if (req.kind == outbound::Request::Kind::kPassthrough) {
    rec->via = "passthrough";
    tcp::endpoint target(fromRawIp(req.target_ip), req.target_port);
    auto made = newSocket(app.get_executor(), target.protocol(), ns.get());
    if (!made) {
      co_await reply(socks5::kGeneralFailure);
      accessLog(*rec, "upstream_failed", made.error().message, started);
      co_return;
    }
    tcp::socket up(std::move(*made));
    ec = co_await connectWithin(up, target, config_.connect_timeout);
    if (ec) {
      facts.flag = telemetry::ResponseFlag::kConnect;
      countRefused(facts, *rec);
      co_await reply(socks5::kConnectionRefused);
      accessLog(*rec, "upstream_failed", ec.message(), started);
      co_return;
    }
    co_await reply(socks5::kSucceeded);
    auto handle = connections_.add(rec);
    auto labels = telemetry::tcpLabelValues(facts);
    countOpened(labels);
    auto outcome = co_await hbone::copyBidirectional(app, up, rec->bytes_to_destination, rec->bytes_to_source,
                                                     config_.copy_buffer);
    countClosed(labels, *rec);
    accessLog(*rec, outcome.clean ? "closed" : "error", outcome.error, started);
    co_return;
  }

  // HBONE: the source workload's certificate must be ready (fail closed).
  rec->via = fmt::format("hbone {}{}", outbound::hostPort(req.hbone_ip, req.hbone_port),
                         req.via_waypoint ? " (waypoint)" : "");
  facts.mutual_tls = true;
  facts.destination_principal = req.expected_identity;
  if (!co_await identities_.ready(src_id, config_.certificate_wait)) {
    co_await reply(socks5::kGeneralFailure);
    accessLog(*rec, "no_certificate", "no certificate for " + src_id.toString() + " yet", started);
    co_return;
  }
  auto ssl_ctx = clientContext(src_id);
  if (!ssl_ctx) {
    co_await reply(socks5::kGeneralFailure);
    co_return;
  }
  tcp::endpoint hbone_ep(fromRawIp(req.hbone_ip), req.hbone_port);
  // In-pod, a pod's tunnels leave from its own namespace: one pool per
  // namespace (a recreated sandbox has a new one).
  hbone::PoolKey key{src_id.toString(), req.expected_identity.toString(), outbound::hostPort(req.hbone_ip, req.hbone_port),
                     ns ? std::to_string(ns->inode()) : ""};
  auto ex = app.get_executor();
  auto expected = req.expected_identity;
  hbone::ClientPool::Dialer dial = [this, ex, ns, ssl_ctx, hbone_ep, expected]() {
    return dialHbone(ex, ns, ssl_ctx, hbone_ep, expected);
  };
  std::vector<hbone::Header> headers;
  headers.push_back({"forwarded", fmt::format("for=\"{}\"", app_ep.address().is_v6()
                                                                ? "[" + app_ep.address().to_string() + "]"
                                                                : app_ep.address().to_string())});
  headers.push_back({"traceparent", newTraceparent()});
  auto tunnel = co_await pools_[ctx.worker]->connect(key, dial, req.authority, headers, config_.connect_timeout);
  int status = tunnel.status;
  const std::string& why = tunnel.error;
  if (status != 200) {
    facts.flag = status == 401 ? telemetry::ResponseFlag::kDeny : telemetry::ResponseFlag::kConnect;
    countRefused(facts, *rec);
    co_await reply(status == 401 ? socks5::kNotAllowed : socks5::kConnectionRefused);
    accessLog(*rec, status == 401 ? "denied" : "upstream_failed",
              status == 0 ? why : fmt::format("HBONE status {}", status), started);
    co_return;  // the app socket closes with this connection
  }
  co_await reply(socks5::kSucceeded);
  auto handle = connections_.add(rec);
  // At the drain deadline the listener closes the app socket; the stream must
  // end too, or a silent peer would keep this tunnel waiting on it.
  std::weak_ptr<hbone::Stream> weak_stream = tunnel.stream;
  auto drain_cut = service_.drain().track(app.get_executor(), [weak_stream] {
    if (auto s = weak_stream.lock()) s->reset();
  });
  auto labels = telemetry::tcpLabelValues(facts);
  countOpened(labels);
  auto outcome = co_await hbone::copyBidirectional(app, *tunnel.stream, rec->bytes_to_destination, rec->bytes_to_source,
                                                   config_.copy_buffer);
  countClosed(labels, *rec);
  accessLog(*rec, outcome.clean ? "closed" : "error", outcome.error, started);
}

}  // namespace ambit::ztunnel::proxy
