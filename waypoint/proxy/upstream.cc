// Upstream: one attempt at an endpoint over HBONE (a pooled connection to its
// node proxy with the waypoint's identity; an idle keep-alive stream to the
// same endpoint is reused first), up to the response head; and mirrors.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include "common/hbone/authority.h"
#include "common/hbone/tls_io.h"
#include "common/log/log.h"
#include "waypoint/proxy/internal.h"
#include "ztunnel/outbound/decide.h"
#include "ztunnel/proxy/proxy.h"

namespace ambit::waypoint {

using Clock = std::chrono::steady_clock;

asio::awaitable<std::size_t> readSome(hbone::Stream& s, std::string& out, std::string& error) {
  char buf[16 * 1024];
  std::size_t n = 0;
  try {
    n = co_await s.read(asio::buffer(buf));
  } catch (const boost::system::system_error& e) {
    error = s.closeReason().empty() ? e.code().message() : s.closeReason();
    co_return 0;
  }
  out.append(buf, n);
  co_return n;
}

asio::awaitable<bool> writeAll(hbone::Stream& s, std::string_view data) {
  try {
    co_await s.write(asio::const_buffer(data.data(), data.size()));
  } catch (const boost::system::system_error&) {
    co_return false;
  }
  co_return true;
}

asio::awaitable<http::H1ResponseReader::State> pullBody(Waypoint::Upstream& up) {
  using State = http::H1ResponseReader::State;
  for (int i = 0; i < 2; ++i) {  // parse what is buffered; else read once and parse that
    auto st = up.reader->feed(up.in, up.body);
    if (st != State::kBody || !up.body.empty()) {
      if (st == State::kDone) up.done = true;
      co_return st;
    }
    std::string err;
    if (co_await readSome(*up.stream, up.in, err) == 0) {
      st = up.reader->finish(up.body);
      if (st == State::kDone) up.done = true;
      co_return st;
    }
  }
  co_return State::kBody;
}

namespace {

std::string endpointKey(const upstream::Endpoint& ep) {
  return ztunnel::outbound::hostPort(ep.ip, ep.port);
}

std::chrono::milliseconds until(Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) return std::chrono::hours(24);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::max(left, std::chrono::milliseconds(1));
}

}  // namespace

asio::awaitable<std::shared_ptr<hbone::Stream>> Waypoint::openStream(Worker& w, const upstream::Endpoint& ep,
                                                                     const upstream::PoolLimits& limits,
                                                                     std::chrono::milliseconds timeout,
                                                                     std::string& error, unsigned& uses, bool fresh) {
  uses = 0;
  auto key_text = endpointKey(ep);
  auto& idle = w.idle[key_text];
  auto now = Clock::now();
  auto idle_timeout = limits.idle_timeout.count() > 0 ? limits.idle_timeout : config_.upstream_idle_timeout;
  while (!fresh && !idle.empty()) {
    auto s = std::move(idle.back().stream);
    auto since = idle.back().since;
    auto used = idle.back().uses;
    idle.pop_back();
    if (!s->closed() && !s->connection().closed() && now - since < idle_timeout) {
      uses = used;
      co_return s;
    }
    s->reset();
  }
  auto connect_timeout = limits.connect_timeout.count() > 0 ? limits.connect_timeout : config_.connect_timeout;
  auto expected = ztunnel::identityOf(*ep.workload);
  auto hbone_ip = ztunnel::proxy::fromRawIp(ep.ip);
  hbone::PoolKey key{identity_.toString(), expected.toString(),
                     ztunnel::outbound::hostPort(ep.ip, config_.hbone_port), config_.source_address};
  tcp::endpoint peer(hbone_ip, config_.hbone_port);
  hbone::ClientPool::Dialer dial = [this, peer, expected,
                                   connect_timeout]() -> asio::awaitable<Result<hbone::TlsStream>> {
    auto exec = co_await asio::this_coro::executor;
    tcp::socket sock(exec);
    boost::system::error_code ec;
    sock.open(peer.protocol(), ec);
    if (ec) co_return makeError(ErrorCode::kUnavailable, "socket: {}", ec.message());
    if (!config_.source_address.empty()) {
      auto src = asio::ip::make_address(config_.source_address, ec);
      if (!ec) sock.bind(tcp::endpoint(src, 0), ec);
      if (ec)
        co_return makeError(ErrorCode::kUnavailable, "bind {}: {}", config_.source_address, ec.message());
    }
    auto dialing = hbone::dialTls(std::move(sock), *client_ctx_, peer, expected, connect_timeout);
    auto r = co_await std::move(dialing);
    co_return r;
  };
  auto authority = ztunnel::outbound::hostPort(ep.ip, ep.port);
  static auto logger = log::scope("waypoint.upstream");
  log::debug(*logger, "upstream_stream_new", "endpoint", authority, "idle_discarded", idle.size());
  std::vector<hbone::Header> headers;
  auto tunnel = co_await w.pool->connect(key, dial, authority, headers, timeout);
  if (tunnel.status == 200 && tunnel.stream) co_return tunnel.stream;
  error = tunnel.status != 0 ? fmt::format("CONNECT {} answered {}", authority, tunnel.status)
                             : fmt::format("CONNECT {}: {}", authority, tunnel.error);
  if (tunnel.stream) tunnel.stream->reset();
  co_return nullptr;
}

std::shared_ptr<const Waypoint::Targets> Waypoint::targetsFor(Worker& w, const Downstream& d,
                                                              const ambit::route::v1::Destination& dest,
                                                              const std::string& ns_hint, uint16_t port) {
  if (w.targets_state != d.state || w.targets_routes != d.routes || w.targets.size() > 1024) {
    w.targets.clear();
    w.targets_state = d.state;
    w.targets_routes = d.routes;
  }
  std::string key = dest.host() + '\n' + std::to_string(port) + '\n' + dest.subset();
  auto it = w.targets.find(key);
  if (it != w.targets.end()) return it->second;
  auto t = std::make_shared<Targets>();
  t->service = upstream::serviceForHost(*d.state, dest.host(), ns_hint);
  if (t->service) {
    std::map<std::string, std::string> subset(dest.subset_labels().begin(), dest.subset_labels().end());
    t->endpoints = upstream::endpointsFor(*d.state, *t->service, port, subset);
    // The waypoint reaches endpoints over HBONE only.
    std::erase_if(t->endpoints, [](const upstream::Endpoint& e) { return !e.hbone; });
  }
  if (const auto* tp = policyFor(*d.routes, dest.host(), dest.subset())) t->limits = upstream::poolLimits(*tp);
  if (t->limits.counted()) {
    t->cluster = breakers_.cluster(fmt::format("{}|{}|{}", dest.host(), dest.subset(), port));
  }
  w.targets.emplace(std::move(key), t);
  return t;
}

void Waypoint::releaseStream(Worker& w, const upstream::Endpoint& ep, std::shared_ptr<hbone::Stream> stream,
                             unsigned uses, const upstream::PoolLimits& limits) {
  auto& idle = w.idle[endpointKey(ep)];
  bool worn = limits.max_requests_per_connection != 0 && uses >= limits.max_requests_per_connection;
  if (idle.size() >= config_.max_idle_upstream || stream->closed() || worn) {
    stream->closeWrite();
    return;
  }
  idle.push_back({std::move(stream), Clock::now(), uses});
}

asio::awaitable<std::unique_ptr<Waypoint::Upstream>> Waypoint::attempt(
    Downstream& d, const upstream::Endpoint& ep, const upstream::PoolLimits& limits, const std::string& request_bytes,
    bool head_request, Clock::time_point deadline, route::AttemptOutcome& outcome, std::string& detail) {
  Worker& w = *workers_[d.worker];
  outcome = {};
  auto method = std::string_view(request_bytes).substr(0, request_bytes.find(' '));
  bool idempotent = method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "PUT" ||
                    method == "DELETE" || method == "TRACE";
  // A reused keep-alive stream the upstream closed meanwhile gives nothing
  // back: then once more on a fresh stream.
  for (int round = 0; round < 2; ++round) {
    std::string error;
    unsigned uses = 0;
    auto stream = co_await openStream(w, ep, limits, until(deadline), error, uses);
    bool reused = uses > 0;
    if (!stream) {
      outcome.failure = Clock::now() >= deadline ? route::AttemptOutcome::Failure::kPerTryTimeout
                                                 : route::AttemptOutcome::Failure::kConnectFailure;
      detail = error;
      co_return nullptr;
    }
    StreamDeadline guard(stream, deadline);
    auto up = std::make_unique<Upstream>();
    up->stream = stream;
    up->endpoint = ep;
    up->uses = uses + 1;
    up->reader = std::make_unique<http::H1ResponseReader>(head_request, config_.limits.max_header_bytes);
    bool sent = co_await writeAll(*stream, request_bytes);
    bool got_bytes = false;
    for (int reads = 0; sent; ++reads) {  // bounded by the deadline, which resets the stream
      std::string err;
      std::size_t n = co_await readSome(*stream, up->in, err);
      auto st = n == 0 ? up->reader->finish(up->body) : up->reader->feed(up->in, up->body);
      got_bytes = got_bytes || n > 0;
      if ((st == http::H1ResponseReader::State::kHead || st == http::H1ResponseReader::State::kDone) &&
          up->reader->head().status == 101) {
        // We strip Upgrade from requests: a protocol switch is an upstream error.
        st = http::H1ResponseReader::State::kError;
        n = 1;
        err = "upstream switched protocols (101) unasked";
      }
      if (st == http::H1ResponseReader::State::kHead || st == http::H1ResponseReader::State::kDone) {
        outcome.status = up->reader->head().status;
        auto grpc = up->reader->head().header("grpc-status");
        if (!grpc.empty() && grpc.find_first_not_of("0123456789") == std::string::npos && grpc.size() < 4) {
          outcome.grpc_status = std::stoi(grpc);
        }
        if (st == http::H1ResponseReader::State::kDone) up->done = true;
        co_return up;
      }
      if (st == http::H1ResponseReader::State::kError || n == 0) {
        if (guard.expired()) {
          outcome.failure = route::AttemptOutcome::Failure::kPerTryTimeout;
          detail = "no response within the timeout";
        } else {
          outcome.failure = route::AttemptOutcome::Failure::kReset;
          detail = !up->reader->error().empty() && n != 0
                       ? up->reader->error()
                       : (err.empty() ? "upstream closed before responding" : err);
        }
        break;
      }
    }
    if (!sent) {
      outcome.failure = guard.expired() ? route::AttemptOutcome::Failure::kPerTryTimeout
                                        : route::AttemptOutcome::Failure::kReset;
      detail = guard.expired() ? "no response within the timeout" : "upstream stream closed while sending";
    }
    stream->reset();
    // Sent again unasked only when that is safe to repeat (RFC 9110 9.2.2).
    if (reused && !got_bytes && !guard.expired() && idempotent) continue;
    co_return nullptr;
  }
  co_return nullptr;
}

void Waypoint::mirror(Downstream& d, const ambit::route::v1::Destination& dest, std::string method,
                      std::string target, std::vector<route::Header> headers, std::string body) {
  static auto logger = log::scope("waypoint.mirror");
  uint16_t port = dest.port() != 0 ? static_cast<uint16_t>(dest.port()) : d.port;
  Worker& w = *workers_[d.worker];
  if (w.mirrors >= config_.max_mirrors) {
    log::debug(*logger, "mirror_dropped", "reason", "too many mirrors in flight", "in_flight", w.mirrors);
    return;
  }
  auto targets = targetsFor(w, d, dest, d.service->namespace_(), port);
  const auto& eps = targets->endpoints;
  upstream::PickInput in;
  in.policy = ambit::route::v1::TrafficPolicy::ROUND_ROBIN;
  in.round_robin = w.round_robin++;
  auto idx = upstream::pickEndpoint(eps, in);
  if (!idx) return;
  // The mirror's destination has its own circuit breakers: a copy over them is dropped.
  const auto& limits = targets->limits;
  const auto& cluster = targets->cluster;
  upstream::Slot request_slot;
  if (cluster) {
    request_slot = cluster->tryRequest(limits);
    if (!request_slot) {
      log::debug(*logger, "mirror_dropped", "reason", "overflow");
      return;
    }
  }
  // Envoy marks a shadow request's authority with "-shadow".
  for (auto& h : headers) {
    if (h.name != "host") continue;
    auto colon = h.value.rfind(':');
    bool has_port = colon != std::string::npos && h.value.find(']', colon) == std::string::npos;
    if (has_port) {
      h.value.insert(colon, "-shadow");
    } else {
      h.value += "-shadow";
    }
  }
  auto bytes = std::make_shared<std::string>(http::serializeRequest(method, target, headers, body));
  auto ep = eps[*idx];
  auto copy = std::make_shared<Downstream>(d);
  bool head = method == "HEAD";
  ++w.mirrors;
  asio::co_spawn(
      service_.workers().context(d.worker),
      [this, copy, ep, bytes, head, limits, cluster, slot = std::move(request_slot)]() mutable -> asio::awaitable<void> {
        Worker& w = *workers_[copy->worker];
        struct InFlight {
          std::size_t& n;
          ~InFlight() { --n; }
        } in_flight{w.mirrors};
        auto deadline = Clock::now() + std::chrono::seconds(10);
        upstream::Slot connection_slot;
        if (cluster) {
          upstream::Cluster::Wait why{};
          connection_slot = co_await cluster->connection(limits, deadline, false, why);
          if (!connection_slot) co_return;
        }
        route::AttemptOutcome outcome;
        std::string detail;
        auto up = co_await attempt(*copy, ep, limits, *bytes, head, deadline, outcome, detail);
        if (!up) {
          log::debug(*logger, "mirror_failed", "endpoint", endpointKey(ep), "error", detail);
          co_return;
        }
        // The response is read and dropped, so the stream can be reused.
        StreamDeadline guard(up->stream, deadline);
        for (int i = 0; !up->done && i < 1000000; ++i) {  // bounded by the deadline too
          up->body.clear();
          if (co_await pullBody(*up) == http::H1ResponseReader::State::kError) break;
        }
        if (up->done && up->reader->head().keep_alive && up->in.empty() && !guard.expired()) {
          releaseStream(w, ep, up->stream, up->uses, limits);
        } else {
          up->stream->reset();
        }
      },
      asio::detached);
}

}  // namespace ambit::waypoint
