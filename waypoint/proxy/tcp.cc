// TCP through the waypoint: a port declared tcp/tls (or sniffed as not HTTP on
// a port of undeclared protocol). The service chose this waypoint, so its
// connections still meet the waypoint's AuthorizationPolicies, with their L4
// fields only (authz::RequestAttributes::l4_only); then one endpoint of the
// service (DestinationRule load balancing, outlier ejection) gets a fresh
// HBONE tunnel with the waypoint's identity, and the bytes are copied both ways.
#include "common/hbone/tunnel.h"
#include "common/log/log.h"
#include "waypoint/authz/http_authz.h"
#include "waypoint/proxy/internal.h"
#include "ztunnel/telemetry/labels.h"

namespace ambit::waypoint {

namespace rv1 = ambit::route::v1;
using Clock = std::chrono::steady_clock;

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

  // 2. An endpoint of the service (no routes: TCP carries nothing to route on).
  rv1::Destination dest;
  dest.set_host(d.service->hostname());
  auto targets = targetsFor(w, d, dest, d.service->namespace_(), d.port);
  if (!targets->service || targets->endpoints.empty()) {
    refuse(503, Flag::kNoHealthy, "no healthy endpoint");
    co_return;
  }
  const auto& endpoints = targets->endpoints;
  rv1::TrafficPolicy no_policy;
  const rv1::TrafficPolicy* tp = policyFor(*routes, dest.host(), "");
  if (tp == nullptr) tp = &no_policy;
  auto outlier = upstream::outlierPolicy(*tp);
  upstream::PickInput pick;
  pick.policy = tp->load_balancer();
  pick.round_robin = w.round_robin++;
  pick.unit = draw();
  pick.unit2 = draw();
  if (tp->load_balancer() == rv1::TrafficPolicy::CONSISTENT_HASH) pick.hash = upstream::hashKey(d.source_ip);
  pick.active = [&w](const upstream::Endpoint& e) {
    auto it = w.active.find(e.key());
    return it == w.active.end() ? 0u : it->second;
  };
  auto now = Clock::now();
  pick.avoid = [&](const upstream::Endpoint& e) { return outlier.enabled() && outliers_.ejected(e.key(), now); };
  auto idx = upstream::pickEndpoint(endpoints, pick);
  const upstream::Endpoint& ep = endpoints[*idx];
  chosen = &ep;

  // 3. Its tunnel: always a new one (a pooled HTTP keep-alive stream is mid-conversation).
  std::string error;
  bool reused = false;
  auto up = co_await openStream(w, ep, config_.connect_timeout, error, reused, true);
  outliers_.record(dest.host(), ep.key(), up ? 200 : 0, outlier, endpoints.size(), Clock::now());
  if (!up) {
    refuse(503, Flag::kUpstreamConnect, error);
    co_return;
  }
  if (!answered) stream->respond(200);
  tcp_connections_.fetch_add(1, std::memory_order_relaxed);
  tcp_metrics_.opened.get(labelsFor(Flag::kNone))->inc();  // closed, with the bytes, in account()

  // 4. The bytes, both ways (the sniffed ones first).
  ++w.active[ep.key()];
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
