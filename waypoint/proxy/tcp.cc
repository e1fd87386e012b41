// TCP through the waypoint: a port declared tcp/tls (or sniffed as not HTTP on
// a port of undeclared protocol). The service chose this waypoint, so its
// connections still meet the waypoint's AuthorizationPolicies, with their L4
// fields only (authz::RequestAttributes::l4_only); then one endpoint of the
// service (DestinationRule load balancing, outlier ejection) gets a fresh
// HBONE tunnel with the waypoint's identity, and the bytes are copied both ways.
#include "common/hbone/tunnel.h"
#include "common/log/log.h"
#include "waypoint/route/decide.h"
#include "waypoint/authz/http_authz.h"
#include "waypoint/proxy/internal.h"
#include "ztunnel/telemetry/labels.h"

namespace ambit::waypoint {

namespace rv1 = ambit::route::v1;
using Clock = std::chrono::steady_clock;

namespace {

// Ends a passed-through connection when no byte has moved either way for
// `idle` (both streams reset). Checks a few times per period; stops when
// destroyed.
class IdleWatch {
 public:
  IdleWatch(const std::shared_ptr<hbone::Stream>& a, const std::shared_ptr<hbone::Stream>& b,
            std::chrono::milliseconds idle, const std::atomic<uint64_t>& received, const std::atomic<uint64_t>& sent)
      : state_(std::make_shared<State>(a->connection().executor())) {
    state_->a = a;
    state_->b = b;
    state_->idle = idle;
    state_->received = &received;
    state_->sent = &sent;
    state_->last_moved = Clock::now();
    arm(state_);
  }
  ~IdleWatch() {
    state_->stopped = true;
    state_->timer.cancel();
  }
  IdleWatch(const IdleWatch&) = delete;
  IdleWatch& operator=(const IdleWatch&) = delete;
  bool fired() const { return state_->fired; }

 private:
  struct State {
    explicit State(asio::any_io_executor ex) : timer(std::move(ex)) {}
    asio::steady_timer timer;
    std::weak_ptr<hbone::Stream> a, b;
    std::chrono::milliseconds idle{0};
    const std::atomic<uint64_t>* received = nullptr;  // valid while not stopped
    const std::atomic<uint64_t>* sent = nullptr;
    uint64_t last_total = 0;
    Clock::time_point last_moved;
    bool stopped = false;
    bool fired = false;
  };
  static void arm(const std::shared_ptr<State>& st) {
    auto step = std::max<std::chrono::milliseconds>(st->idle / 4, std::chrono::milliseconds(10));
    st->timer.expires_after(std::min(step, st->idle));
    st->timer.async_wait([st](boost::system::error_code ec) {
      if (ec || st->stopped) return;
      auto total = st->received->load(std::memory_order_relaxed) + st->sent->load(std::memory_order_relaxed);
      auto now = Clock::now();
      if (total != st->last_total) {
        st->last_total = total;
        st->last_moved = now;
      } else if (now - st->last_moved >= st->idle) {
        st->fired = true;
        if (auto s = st->a.lock()) s->reset();
        if (auto s = st->b.lock()) s->reset();
        return;
      }
      arm(st);
    });
  }
  std::shared_ptr<State> state_;
};

}  // namespace

asio::awaitable<void> Waypoint::serveTcp(std::shared_ptr<hbone::Stream> stream, Downstream& d, std::string first,
                                         bool answered) {
  static auto logger = log::scope("waypoint.tcp");
  auto started = Clock::now();
  Worker& w = *workers_[d.worker];
  d.state = state_.current();
  d.routes = routes_.current();
  d.policies = d.routes->policiesFor(config_.ns, config_.name, d.service->namespace_(), d.service->name());
  const std::shared_ptr<const RouteTable> routes = d.routes;

  const upstream::Endpoint* chosen = nullptr;
  std::atomic<uint64_t> received{first.size()}, sent{0};
  // The connection's metrics and access line (refused ones too, as Istio counts them);
  // `opened`: count it opened here too (a refusal; a relayed one was counted when it opened).
  auto labelsFor = [&](Flag flag) {
    ztunnel::telemetry::ConnectionFacts f;
    f.source = d.source.get();
    f.source_principal = d.peer;
    f.destination = chosen ? chosen->workload.get() : nullptr;
    if (chosen) f.destination_principal = ztunnel::identityOf(*chosen->workload);
    f.service = d.service.get();
    f.mutual_tls = true;
    auto labels = ztunnel::telemetry::tcpLabelValues(f);
    labels[0] = "waypoint";
    labels[21] = flagName(flag);
    return labels;
  };
  auto account = [&](Flag flag, const std::string& detail, bool opened) {
    auto labels = labelsFor(flag);
    if (opened) tcp_metrics_.opened.get(labels)->inc();
    tcp_metrics_.closed.get(labels)->inc();
    if (auto n = received.load(std::memory_order_relaxed)) tcp_metrics_.received.get(labels)->inc(double(n));
    if (auto n = sent.load(std::memory_order_relaxed)) tcp_metrics_.sent.get(labels)->inc(double(n));
    if (!config_.access_log) return;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    log::info(*logger, "access", "src", d.source_ip, "principal", d.peer_text, "authority", d.vip, "protocol", "tcp",
              "flags", flagName(flag), "upstream",
              chosen ? chosen->workload->namespace_() + "/" + chosen->workload->name() : "-", "bytes_received",
              received.load(), "bytes_sent", sent.load(), "duration_ms", ms, "detail", detail.empty() ? "-" : detail);
  };
  auto refuse = [&](int status, Flag flag, const std::string& detail) {
    if (answered) {
      stream->reset();
    } else {
      stream->respond(status);
    }
    account(flag, detail, true);  // counted opened and closed, as ztunnel counts a DENY
  };

  // 1. L4 authorization: the policies naming this waypoint or the service.
  if (!d.policies.empty()) {
    authz::RequestAttributes a = connectionAttributes(d);
    a.l4_only = true;
    auto decision = authz::decide(d.policies, a);
    for (const auto& dr : decision.dry_run) log::info(*logger, "authz_dry_run", "src", d.source_ip, "detail", dr);
    if (!decision.allowed) {
      refuse(403, Flag::kRbac, decision.reason);
      co_return;
    }
  }

  // 2. Where it goes: a TCP route for this port (VirtualService tcp:), else
  // the service itself (as Istio: unlike HTTP, no route is not a refusal).
  rv1::Destination dest;
  std::string ns_hint = d.service->namespace_();
  if (const auto* host = routes->host(d.service->hostname()); host != nullptr) {
    ns_hint = host->config().namespace_();
    if (const auto* picked = route::tcpDestination(host->config(), d.port, draw())) dest = *picked;
  }
  if (dest.host().empty()) dest.set_host(d.service->hostname());
  if (!dest.unresolved().empty()) {
    refuse(503, Flag::kNoRoute, dest.unresolved());
    co_return;
  }
  uint16_t port = dest.port() != 0 ? static_cast<uint16_t>(dest.port()) : d.port;
  auto targets = targetsFor(w, d, dest, ns_hint, port);
  if (!targets->service || targets->endpoints.empty()) {
    refuse(503, Flag::kNoHealthy, "no healthy endpoint");
    co_return;
  }
  const auto& endpoints = targets->endpoints;
  rv1::TrafficPolicy no_policy;
  const rv1::TrafficPolicy* tp = policyFor(*routes, dest.host(), dest.subset());
  if (tp == nullptr) tp = &no_policy;
  auto outlier = upstream::outlierPolicy(*tp);
  // maxConnections holds for TCP too; over it the connection is refused (Envoy's TCP proxy queues none).
  const auto& limits = targets->limits;
  upstream::Slot connection_slot;
  if (targets->cluster) {
    upstream::Cluster::Wait why{};
    connection_slot = co_await targets->cluster->connection(limits, Clock::now(), false, why);
    if (!connection_slot) {
      refuse(503, Flag::kOverflow, "max connections (maxConnections) reached");
      co_return;
    }
  }
  auto pick = pickInput(w, *tp);
  if (tp->load_balancer() == rv1::TrafficPolicy::CONSISTENT_HASH) pick.hash = upstream::hashKey(d.source_ip);
  auto now = Clock::now();
  pick.avoid = [&](const upstream::Endpoint& e) { return outlier.enabled() && outliers_.ejected(e.key(), now); };
  auto idx = upstream::pickEndpoint(endpoints, pick);
  const upstream::Endpoint& ep = endpoints[*idx];
  chosen = &ep;

  // 3. Its tunnel: always a new one (a pooled HTTP keep-alive stream is mid-conversation).
  std::string error;
  auto connect_timeout = limits.connect_timeout.count() > 0 ? limits.connect_timeout : config_.connect_timeout;
  auto conn = co_await openStream(w, ep, limits, connect_timeout, error, false, true);
  auto up = std::move(conn.stream);
  outliers_.record(dest.host(), ep.key(), up ? 200 : 0, outlier, endpoints.size(), Clock::now());
  if (!up) {
    refuse(503, Flag::kUpstreamConnect, error);
    co_return;
  }
  if (!answered) stream->respond(200);
  tcp_connections_.fetch_add(1, std::memory_order_relaxed);
  tcp_metrics_.opened.get(labelsFor(Flag::kNone))->inc();  // closed, with the bytes, in account()

  // 4. The bytes, both ways (the sniffed ones first), until both ends close
  // or nothing moves for the idle timeout.
  ++w.active[ep.key()];
  auto idle = limits.tcp_idle_timeout.count() > 0 ? limits.tcp_idle_timeout : config_.tcp_idle_timeout;
  std::optional<IdleWatch> watch;
  if (idle != std::chrono::milliseconds::max()) watch.emplace(stream, up, idle, received, sent);
  hbone::TunnelOutcome outcome;
  bool first_ok = true;
  if (!first.empty()) first_ok = co_await writeAll(*up, first);
  if (first_ok) {
    outcome = co_await hbone::copyBidirectional(*stream, *up, received, sent);
  } else {
    outcome = {false, "upstream closed before the first bytes"};
    stream->reset();
    up->reset();
  }
  if (--w.active[ep.key()] == 0) w.active.erase(ep.key());
  if (watch && watch->fired()) {
    account(Flag::kNone, "idle timeout", false);
    co_return;
  }
  // Which side ended it: a reset we passed on reads "reset by us"; the side that started it does not.
  Flag flag = Flag::kNone;
  if (!outcome.clean) {
    const auto& why = stream->closeReason();
    bool client_side = !why.empty() && why.rfind("reset by us", 0) != 0;
    flag = client_side ? Flag::kDownstreamReset : Flag::kUpstreamReset;
  }
  account(flag, outcome.error, false);
}

}  // namespace ambit::waypoint
