// The waypoint's listener and HBONE server side: mTLS with the waypoint's
// certificate, then per CONNECT: is the target a service this waypoint
// serves? Then HTTP (declared or sniffed) or TCP passthrough.
#include "waypoint/proxy/proxy.h"

#include <boost/asio/ip/address.hpp>
#include <fmt/format.h>

#include "common/hbone/authority.h"
#include "common/hbone/tls_io.h"
#include "common/log/log.h"
#include "common/metrics/istio_labels.h"
#include "common/tls/tls_context.h"
#include "waypoint/http/sniff.h"
#include "waypoint/proxy/internal.h"
#include "ztunnel/proxy/proxy.h"

namespace ambit::waypoint {

namespace wl = istio::workload;
using ztunnel::proxy::rawIp;

const char* flagName(Flag f) {
  switch (f) {
    case Flag::kNone:
      return "-";
    case Flag::kNoRoute:
      return "NR";
    case Flag::kFaultAbort:
      return "FI";
    case Flag::kFaultDelay:
      return "DI";
    case Flag::kRbac:
      return "RBAC";
    case Flag::kUpstreamConnect:
      return "UF";
    case Flag::kUpstreamReset:
      return "UR";
    case Flag::kUpstreamTimeout:
      return "UT";
    case Flag::kNoHealthy:
      return "UH";
    case Flag::kOverflow:
      return "UO";
    case Flag::kBadRequest:
      return "DPE";
    case Flag::kDownstreamReset:
      return "DR";
    case Flag::kStreamIdleTimeout:
      return "SI";
  }
  return "-";
}

RequestMetrics::RequestMetrics(metrics::Registry& r)
    : requests(r.counter(metrics::istio::kRequestsTotal, "requests the waypoint handled",
                         metrics::istio::requestLabels())),
      duration(r.histogram(metrics::istio::kRequestDuration, "request duration in milliseconds",
                           metrics::istio::requestLabels(), metrics::istio::durationBucketsMs())),
      request_bytes(r.histogram(metrics::istio::kRequestBytes, "request sizes in bytes (head and body)",
                                metrics::istio::requestLabels(), metrics::istio::sizeBuckets())),
      response_bytes(r.histogram(metrics::istio::kResponseBytes, "response sizes in bytes (head and body)",
                                 metrics::istio::requestLabels(), metrics::istio::sizeBuckets())) {}

TunnelMetrics::TunnelMetrics(metrics::Registry& r)
    : opened(r.counter(metrics::istio::kTcpConnectionsOpened, "TCP connections opened",
                       metrics::istio::tcpLabels())),
      closed(r.counter(metrics::istio::kTcpConnectionsClosed, "TCP connections closed",
                       metrics::istio::tcpLabels())),
      sent(r.counter(metrics::istio::kTcpSentBytes, "Bytes sent to the downstream (response direction)",
                     metrics::istio::tcpLabels())),
      received(r.counter(metrics::istio::kTcpReceivedBytes, "Bytes received from the downstream (request direction)",
                         metrics::istio::tcpLabels())) {}

Waypoint::Waypoint(ProxyConfig config, app::Service& service, ztunnel::StateStore& state, RouteStore& routes,
                   ztunnel::identity::Manager& identities)
    : config_(std::move(config)),
      service_(service),
      state_(state),
      routes_(routes),
      identities_(identities),
      identity_{config_.trust_domain, config_.ns, config_.service_account},
      metrics_(service.metrics()),
      tcp_metrics_(service.metrics()) {
  if (!config_.tracing.zipkin_address.empty()) {
    trace::ZipkinOptions o;
    o.address = config_.tracing.zipkin_address;
    o.flush_interval = config_.tracing.flush_interval;
    tracer_ = std::make_unique<trace::ZipkinExporter>(std::move(o));
  }
}

Waypoint::~Waypoint() = default;

Status Waypoint::start() {
  identities_.setWanted({identity_.toString()});
  auto store = identities_.store(identity_);
  auto server = tls::makeServerContext(store, tls::TlsOptions{}, config_.trust_domain);
  if (!server) return server.error();
  server_ctx_ = std::make_shared<asio::ssl::context>(tls::adoptContext(std::move(*server)));
  auto client = tls::makeClientContext(store, tls::TlsOptions{}, config_.trust_domain);
  if (!client) return client.error();
  client_ctx_ = std::make_shared<asio::ssl::context>(tls::adoptContext(std::move(*client)));
  for (std::size_t i = 0; i < service_.workers().size(); ++i) {
    auto w = std::make_unique<Worker>();
    w->pool = std::make_unique<hbone::ClientPool>(service_.workers().context(i).get_executor(), config_.pool);
    workers_.push_back(std::move(w));
  }
  boost::system::error_code ec;
  auto ip = asio::ip::make_address(config_.listen_address, ec);
  if (ec)
    return makeError(ErrorCode::kInvalidArgument, "listen.address '{}' is not an IP address",
                     config_.listen_address);
  auto l = runtime::Listener::start(
      service_.workers(), service_.drain(), tcp::endpoint(ip, config_.hbone_port),
      [this](tcp::socket& s, runtime::ConnectionContext& ctx) { return serveHbone(s, ctx); },
      runtime::ListenerOptions{.name = "waypoint hbone"});
  if (!l) return l.error().wrap("HBONE listener");
  listener_ = std::move(*l);
  service_.drain().onStart([this] { drainPools(); });
  return {};
}

tcp::endpoint Waypoint::endpoint() const {
  return listener_ ? listener_->localEndpoint() : tcp::endpoint();
}

void Waypoint::drainPools() {
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    asio::post(service_.workers().context(i), [w = workers_[i].get()] {
      w->idle.clear();
      w->pool->goAwayAll();
    });
  }
}

void Waypoint::stop() {
  if (listener_) listener_->stopAccepting();
  for (auto& w : workers_) {
    w->idle.clear();
    w->pool->closeAll("shutdown");
  }
}

nlohmann::json Waypoint::dump() const {
  auto routes = routes_.current();
  nlohmann::json out = {{"gateway", config_.ns + "/" + config_.name},
                        {"identity", identity_.toString()},
                        {"listen", hbone::formatAuthority(endpoint().address(), endpoint().port())},
                        {"requests", requests_.load()},
                        {"tunnels", downstream_streams_.load()},
                        {"tcp_connections", tcp_connections_.load()},
                        {"routes", routes->dump()},
                        {"outliers", outliers_.dump(std::chrono::steady_clock::now())},
                        {"circuit_breakers", breakers_.dump()},
                        {"tracing", tracer_ ? tracer_->dump() : nlohmann::json(nullptr)}};
  return out;
}

asio::awaitable<void> Waypoint::serveHbone(tcp::socket& socket, runtime::ConnectionContext& ctx) {
  static auto logger = log::scope("waypoint.inbound");
  if (!co_await identities_.ready(identity_, config_.certificate_wait)) {
    log::warn(*logger, "hbone_no_certificate", "identity", identity_.toString());
    co_return;
  }
  boost::system::error_code ec;
  auto peer_ep = socket.remote_endpoint(ec);
  hbone::TlsStream tls(std::move(socket), *server_ctx_);
  auto st = co_await hbone::acceptTls(tls, config_.handshake_timeout);
  if (!st) {
    log::info(*logger, "hbone_handshake_refused", "src", peer_ep.address().to_string(), "error",
              st.error().message);
    co_return;
  }
  auto peer = tls::peerIdentity(tls.native_handle());
  std::size_t worker = ctx.worker;
  auto conn =
      hbone::Connection::create(std::move(tls), hbone::Connection::Role::kServer, config_.server_limits,
                                [this, worker, peer, peer_ep](std::shared_ptr<hbone::Stream> s) {
                                  return handleConnect(std::move(s), worker, peer, peer_ep);
                                });
  co_await hbone::runDraining(std::move(conn), service_.drain());
}

namespace {

// Does this service's waypoint name us (the Gateway's Service hostname)?
bool servedBy(const wl::Service& svc, const ProxyConfig& c) {
  if (!svc.has_waypoint() || !svc.waypoint().has_hostname()) return false;
  const auto& h = svc.waypoint().hostname();
  std::string prefix = c.name + "." + c.ns + ".svc.";
  return h.namespace_() == c.ns && h.hostname().compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

asio::awaitable<void> Waypoint::handleConnect(std::shared_ptr<hbone::Stream> stream, std::size_t worker,
                                              std::optional<tls::Identity> peer, tcp::endpoint peer_ep) {
  static auto logger = log::scope("waypoint.inbound");
  downstream_streams_.fetch_add(1, std::memory_order_relaxed);
  if (configured_ && !configured_()) {
    // Fail closed: without the policies a request could pass a DENY.
    stream->respond(503);
    log::info(*logger, "connect_refused", "authority", stream->authority(), "reason",
              "waiting for the first xDS config");
    co_return;
  }
  Downstream d;
  d.worker = worker;
  d.peer = peer;
  d.state = state_.current();
  d.vip = stream->authority();
  auto target = hbone::parseAuthority(stream->authority());
  auto src_ip = ztunnel::proxy::clientAddress(*d.state, config_.network, peer, peer_ep, stream->header("forwarded"));
  d.source_ip = src_ip.to_string();
  d.peer_text = peer ? peer->toString() : "-";
  d.peer_hash = upstream::hashKey(d.peer_text);
  if (peer) d.principal = peer->trust_domain + "/ns/" + peer->ns + "/sa/" + peer->service_account;
  d.source = d.state->workloadByAddress(config_.network, rawIp(src_ip));
  if (target) d.service = d.state->serviceByAddress(config_.network, rawIp(target->ip));
  if (!target || !d.service || !servedBy(*d.service, config_)) {
    // hardening.md 3: a waypoint is not a relay; only services bound to it are targets.
    stream->respond(400);
    log::info(*logger, "connect_refused", "src", d.source_ip, "authority", stream->authority(), "reason",
              !d.service ? "not a service address" : "service does not use this waypoint");
    co_return;
  }
  d.port = target->port;
  d.vip_ip = target->ip.to_string();
  const wl::Port* declared = nullptr;
  for (const auto& p : d.service->ports()) {
    if (p.service_port() == d.port) declared = &p;
  }
  if (declared == nullptr) {
    stream->respond(400);
    log::info(*logger, "connect_refused", "src", d.source_ip, "authority", stream->authority(), "reason",
              "port not declared by the service");
    co_return;
  }
  // Declared TCP or TLS: passed through with L4 policy, answered once an
  // endpoint took the connection. The ztunnel sent it here because the
  // service uses this waypoint, so it must still hold the waypoint's policies.
  const auto protocol = declared->app_protocol();
  if (protocol == wl::TCP || protocol == wl::TLS) {
    std::string none;  // no braced temporary in a co_await (GCC 12 destroys it twice)
    co_await serveTcp(stream, d, std::move(none), false);
    co_return;
  }
  stream->respond(200);
  // Declared HTTP: HTTP/2 with prior knowledge starts with its preface,
  // anything else is HTTP/1.1. Undeclared: HTTP when the first bytes say so
  // (the preface or a whole request line), else TCP (http/sniff.h).
  std::string in;
  http::Sniffed kind = http::Sniffed::kNeedMore;
  {
    // Idle until the first byte, then the header timeout (as for a request).
    auto deadline = std::make_unique<StreamDeadline>(stream, std::chrono::steady_clock::now() + config_.idle_timeout);
    auto decide = [&] { return protocol == wl::UNKNOWN ? http::sniff(in) : http::sniffVersion(in); };
    for (std::size_t i = 0; i < http::kSniffMax; ++i) {  // each read adds a byte at least
      kind = decide();
      if (kind != http::Sniffed::kNeedMore) break;
      if (i == 1) {
        deadline = std::make_unique<StreamDeadline>(
            stream, std::chrono::steady_clock::now() + config_.request_header_timeout);
      }
      std::string err;
      if (co_await readSome(*stream, in, err) == 0) break;
    }
    if (kind == http::Sniffed::kNeedMore) kind = decide();
    if (stream->closed()) co_return;  // reset or timed out before anything could be told
    // Ended before it could be told (a few bytes, then END_STREAM): HTTP never
    // looks like that, so an undeclared port takes it for TCP.
    if (kind == http::Sniffed::kNeedMore && !in.empty() && protocol == wl::UNKNOWN) kind = http::Sniffed::kOther;
  }
  if (kind == http::Sniffed::kHttp2) {
    co_await serveHttp2(stream, d, std::move(in));
  } else if (kind == http::Sniffed::kOther && protocol == wl::UNKNOWN) {
    co_await serveTcp(stream, d, std::move(in), true);
  } else {
    co_await serveHttp1(stream, d, std::move(in));
  }
}

std::size_t Waypoint::Worker::SeriesKeyHash::operator()(const SeriesKey& k) const {
  std::size_t h = std::hash<const void*>()(k.source);
  for (std::size_t v : {std::hash<const void*>()(k.destination), std::hash<const void*>()(k.service),
                        static_cast<std::size_t>(k.peer_hash), static_cast<std::size_t>(k.status),
                        static_cast<std::size_t>(k.flag), static_cast<std::size_t>(k.grpc + 2)}) {
    h = h * 1099511628211ull ^ v;
  }
  return h;
}

void Waypoint::countRequest(Worker& w, Downstream& d, const upstream::Endpoint* ep, int status, Flag flag,
                            std::chrono::steady_clock::time_point started, uint64_t request_bytes,
                            uint64_t response_bytes, int grpc) {
  requests_.fetch_add(1, std::memory_order_relaxed);
  ztunnel::WorkloadPtr destination = ep ? ep->workload : nullptr;
  Worker::SeriesKey key{d.source.get(), destination.get(), d.service.get(), d.peer_hash, status, flag, grpc};
  auto it = w.request_series.find(key);
  if (it == w.request_series.end() || it->second.peer != d.peer_text) {
    ztunnel::telemetry::ConnectionFacts f;
    f.source = d.source.get();
    f.source_principal = d.peer;
    f.destination = destination.get();
    if (destination) f.destination_principal = ztunnel::identityOf(*destination);
    f.service = d.service.get();
    f.mutual_tls = true;
    auto labels = ztunnel::telemetry::tcpLabelValues(f);
    labels[0] = "waypoint";
    labels[20] = grpc == kNotGrpc ? "http" : "grpc";
    labels[21] = flagName(flag);
    labels.push_back(std::to_string(status));
    labels.push_back(grpc >= 0 ? std::to_string(grpc) : "");
    if (w.request_series.size() > 4096) w.request_series.clear();  // bounded: a cache, not the truth
    Worker::Series series{d.source,
                          destination,
                          d.service,
                          d.peer_text,
                          metrics_.requests.get(labels),
                          metrics_.duration.get(labels),
                          metrics_.request_bytes.get(labels),
                          metrics_.response_bytes.get(labels)};
    it = w.request_series.insert_or_assign(key, std::move(series)).first;
  }
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  it->second.requests->inc();
  it->second.duration->observe(ms);
  it->second.request_bytes->observe(static_cast<double>(request_bytes));
  it->second.response_bytes->observe(static_cast<double>(response_bytes));
}

}  // namespace ambit::waypoint
