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

http::H2Transport transportOver(const std::shared_ptr<hbone::Stream>& stream) {
  http::H2Transport t;
  t.read = [stream](std::string& out) -> asio::awaitable<std::size_t> {
    std::string err;
    co_return co_await readSome(*stream, out, err);
  };
  t.write = [stream](std::string_view data) -> asio::awaitable<bool> { co_return co_await writeAll(*stream, data); };
  t.close_write = [stream] { stream->closeWrite(); };
  t.abort = [stream] { stream->reset(); };
  return t;
}

Waypoint::Upstream::~Upstream() {
  if (!pump || pump->finished) return;
  pump->cancelled = true;
  if (h2) h2->abandon();  // wakes a send() waiting for the window
  if (stream) stream->reset();
}

const std::vector<route::Header>& Waypoint::Upstream::trailers() const {
  static const std::vector<route::Header> kNone;
  return h2 ? h2->trailers() : kNone;
}

asio::awaitable<http::H1ResponseReader::State> pullBody(Waypoint::Upstream& up) {
  using State = http::H1ResponseReader::State;
  if (up.h2) {
    auto st = co_await up.h2->next(up.body);
    if (st == State::kDone) up.done = true;
    co_return st == State::kHead ? State::kBody : st;
  }
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

// Idle streams are kept apart by protocol: an HTTP/2 one has its session.
std::string idleKey(const upstream::Endpoint& ep, bool http2) {
  return http2 ? endpointKey(ep) + " h2" : endpointKey(ep);
}

std::chrono::milliseconds until(Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) return std::chrono::hours(24);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return std::max(left, std::chrono::milliseconds(1));
}

}  // namespace

asio::awaitable<Waypoint::IdleStream> Waypoint::openStream(Worker& w, const upstream::Endpoint& ep,
                                                           const upstream::PoolLimits& limits,
                                                           std::chrono::milliseconds timeout, std::string& error,
                                                           bool http2, bool fresh) {
  auto& idle = w.idle[idleKey(ep, http2)];
  auto now = Clock::now();
  auto idle_timeout = limits.idle_timeout.count() > 0 ? limits.idle_timeout : config_.upstream_idle_timeout;
  while (!fresh && !idle.empty()) {
    IdleStream s = std::move(idle.back());
    idle.pop_back();
    bool alive = !s.stream->closed() && !s.stream->connection().closed() && now - s.since < idle_timeout;
    if (alive && (!s.h2 || s.h2->reusable())) co_return s;
    s.stream->reset();
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
  IdleStream out;
  if (tunnel.status == 200 && tunnel.stream) {
    out.stream = std::move(tunnel.stream);
    co_return out;
  }
  error = tunnel.status != 0 ? fmt::format("CONNECT {} answered {}", authority, tunnel.status)
                             : fmt::format("CONNECT {}: {}", authority, tunnel.error);
  if (tunnel.stream) tunnel.stream->reset();
  co_return out;
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
  if (t->service) {
    for (const auto& p : t->service->ports()) {
      if (p.service_port() == port) t->protocol = p.app_protocol();
    }
  }
  if (const auto* tp = policyFor(*d.routes, dest.host(), dest.subset())) t->limits = upstream::poolLimits(*tp);
  if (t->limits.counted()) {
    t->cluster = breakers_.cluster(fmt::format("{}|{}|{}", dest.host(), dest.subset(), port));
  }
  w.targets.emplace(std::move(key), t);
  return t;
}

void Waypoint::releaseStream(Worker& w, Upstream& up, const upstream::PoolLimits& limits) {
  auto& idle = w.idle[idleKey(up.endpoint, up.h2 != nullptr)];
  bool worn = limits.max_requests_per_connection != 0 && up.uses >= limits.max_requests_per_connection;
  if (idle.size() >= config_.max_idle_upstream || up.stream->closed() || worn) {
    up.stream->closeWrite();
    return;
  }
  idle.push_back({std::move(up.stream), std::move(up.h2), Clock::now(), up.uses});
}

upstream::PickInput Waypoint::pickInput(Worker& w, const ambit::route::v1::TrafficPolicy& tp) {
  upstream::PickInput pick;
  pick.policy = tp.load_balancer();
  pick.round_robin = w.round_robin++;
  pick.unit = draw();
  pick.unit2 = draw();
  pick.active = [&w](const upstream::Endpoint& e) {
    auto it = w.active.find(e.key());
    return it == w.active.end() ? 0u : it->second;
  };
  return pick;
}

void Waypoint::prepare(Outbound& req, bool http2) {
  req.http2 = http2;
  req.h1.clear();
  req.streamed = !req.body->ended();
  req.chunked = req.streamed && !http2 && !req.body->length();
  if (http2) return;
  req.h1 = req.streamed ? http::serializeRequestHead(req.method, req.target, req.headers, req.body->length())
                        : http::serializeRequest(req.method, req.target, req.headers, req.body->whole());
}

namespace {

// How far one exchange got: the head, or not (then why, and whether the
// upstream said anything at all).
struct Exchanged {
  bool head = false;
  bool heard = false;    // the upstream sent something for it
  bool refused = false;  // HTTP/2: refused before processing (safe to send again)
  std::string error;
};

// Sends the request body from `at` on as it arrives (HTTP/2: through the
// session; HTTP/1.1: on the stream, chunked or not), until it ends, the
// attempt is given up, or either side goes away. A body the client broke off
// resets the upstream stream, so the upstream does not wait for the rest.
asio::awaitable<void> pumpBody(std::shared_ptr<http::RequestBody> body, uint64_t at,
                               std::shared_ptr<Waypoint::BodyPump> pump, std::shared_ptr<hbone::Stream> stream,
                               std::shared_ptr<http::H2Client> h2, bool chunked) {
  try {
    for (uint64_t round = 0; !pump->cancelled; ++round) {  // each round sends, or waits for the client's bytes
      if (body->from(at).empty() && !body->ended()) {
        if (body->failed()) break;
        co_await body->wait(at);
        continue;
      }
      const std::string_view piece = body->from(at);
      const uint64_t next = at + piece.size();
      const bool end = body->ended();
      bool ok = true;
      if (h2) {
        ok = co_await h2->send(piece, end);  // queued before it waits
      } else {
        // A copy: the body's buffer may grow (and move) while this is written.
        std::string out = chunked && !piece.empty() ? fmt::format("{:x}\r\n{}\r\n", piece.size(), piece)
                                                    : std::string(piece);
        if (chunked && end) out += "0\r\n\r\n";
        if (!out.empty()) ok = co_await writeAll(*stream, out);
      }
      if (!ok || pump->cancelled) break;
      at = next;
      body->sent(at);
      if (end) {
        pump->ok = true;
        break;
      }
    }
  } catch (const std::exception&) {
    pump->ok = false;
  }
  pump->finished = true;
  if (!pump->ok && !pump->cancelled) {
    if (h2) h2->abandon();
    stream->reset();
  }
}

void startPump(Waypoint::Upstream& up, const Waypoint::Outbound& req, uint64_t at) {
  up.pump = std::make_shared<Waypoint::BodyPump>();
  asio::co_spawn(up.stream->connection().executor(),
                 pumpBody(req.body, at, up.pump, up.stream, up.h2, req.chunked), asio::detached);
}

asio::awaitable<Exchanged> exchangeH1(Waypoint::Upstream& up, const Waypoint::Outbound& req) {
  using State = http::H1ResponseReader::State;
  Exchanged x;
  bool sent = co_await writeAll(*up.stream, req.h1);
  if (sent && req.streamed) startPump(up, req, 0);
  for (int reads = 0; sent; ++reads) {  // bounded by the deadline, which resets the stream
    std::string err;
    std::size_t n = co_await readSome(*up.stream, up.in, err);
    auto st = n == 0 ? up.reader->finish(up.body) : up.reader->feed(up.in, up.body);
    x.heard = x.heard || n > 0;
    if ((st == State::kHead || st == State::kDone) && up.reader->head().status == 101) {
      // We strip Upgrade from requests: a protocol switch is an upstream error.
      x.error = "upstream switched protocols (101) unasked";
      co_return x;
    }
    if (st == State::kHead || st == State::kDone) {
      x.head = true;
      up.done = st == State::kDone;
      co_return x;
    }
    if (st == State::kError || n == 0) {
      x.error = !up.reader->error().empty() && n != 0 ? up.reader->error()
                                                      : (err.empty() ? "upstream closed before responding" : err);
      co_return x;
    }
  }
  x.error = "upstream stream closed while sending";
  co_return x;
}

asio::awaitable<Exchanged> exchangeH2(Waypoint::Upstream& up, const Waypoint::Outbound& req) {
  using State = http::H2Client::State;
  Exchanged x;
  http::H2ClientRequest r;
  r.method = req.method;
  r.authority = req.authority;
  r.path = req.target;
  r.headers = &req.headers;
  r.body = req.body->from(0);
  r.more = !req.body->ended();
  r.length = req.body->length();
  uint64_t here = r.body.size();
  if (!up.h2->start(r)) {
    x.error = up.h2->error().empty() ? "upstream session cannot take a request" : up.h2->error();
    co_return x;
  }
  if (r.more) startPump(up, req, here);
  auto st = co_await up.h2->next(up.body);
  x.heard = up.h2->heard();
  x.refused = up.h2->refused();
  if (st == State::kHead) {
    x.head = true;
    // Ended at its head (trailers-only, or a bodiless answer) when the next step needs no I/O.
    up.done = up.h2->complete();
    co_return x;
  }
  x.error = up.h2->error();
  co_return x;
}

}  // namespace

asio::awaitable<std::unique_ptr<Waypoint::Upstream>> Waypoint::attempt(
    Downstream& d, const upstream::Endpoint& ep, const upstream::PoolLimits& limits, const Outbound& req,
    Clock::time_point deadline, route::AttemptOutcome& outcome, std::string& detail) {
  using F = route::AttemptOutcome::Failure;
  Worker& w = *workers_[d.worker];
  outcome = {};
  const auto& method = req.method;
  bool idempotent = method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "PUT" ||
                    method == "DELETE" || method == "TRACE";
  // A reused stream the upstream closed meanwhile gives nothing back: then
  // once more on a fresh stream (the other idle ones may be as stale).
  for (int round = 0; round < 2; ++round) {
    std::string error;
    auto conn = co_await openStream(w, ep, limits, until(deadline), error, req.http2, round > 0);
    bool reused = conn.uses > 0;
    if (!conn.stream) {
      outcome.failure = Clock::now() >= deadline ? F::kPerTryTimeout : F::kConnectFailure;
      detail = error;
      co_return nullptr;
    }
    StreamDeadline guard(conn.stream, deadline, config_.idle_timeout);
    auto up = std::make_unique<Upstream>();
    up->stream = conn.stream;
    up->endpoint = ep;
    up->uses = conn.uses + 1;
    Exchanged x;
    if (req.http2) {
      http::H2ClientLimits h2_limits;
      h2_limits.max_header_bytes = config_.limits.max_header_bytes;
      h2_limits.max_headers = config_.limits.max_headers;
      up->h2 = conn.h2 ? std::move(conn.h2)
                       : std::make_shared<http::H2Client>(conn.stream->connection().executor(),
                                                          transportOver(conn.stream), h2_limits);
      x = co_await exchangeH2(*up, req);
    } else {
      up->reader = std::make_unique<http::H1ResponseReader>(method == "HEAD", config_.limits.max_header_bytes);
      x = co_await exchangeH1(*up, req);
    }
    if (x.head) {
      const auto& head = up->head();
      outcome.status = head.status;
      outcome.grpc_status = route::grpcStatusValue(head.header("grpc-status"));
      co_return up;
    }
    if (guard.idled()) {
      outcome.failure = F::kStreamIdle;
      detail = "stream idle timeout: nothing moved for " + std::to_string(config_.idle_timeout.count()) + " ms";
    } else if (guard.expired()) {
      outcome.failure = F::kPerTryTimeout;
      detail = "no response within the timeout";
    } else {
      outcome.failure = x.refused ? F::kRefusedStream : F::kReset;
      detail = x.error;
    }
    conn.stream->reset();
    // Sent again unasked only when that is safe to repeat (RFC 9110 9.2.2;
    // a refused HTTP/2 stream was never processed, RFC 9113 8.7), and the
    // body is all still here.
    bool again = x.refused || (!x.heard && idempotent);
    if (reused && !guard.expired() && again && req.body->replayable()) continue;
    co_return nullptr;
  }
  co_return nullptr;
}

void Waypoint::mirror(Downstream& d, const ambit::route::v1::Destination& dest, const Outbound& req,
                      bool client_http2) {
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
  auto shadow = std::make_shared<Outbound>(req);
  // Its own copy of the (whole) body: the client's may be let go first.
  shadow->body = std::make_shared<http::RequestBody>(std::string(req.body->whole()));
  // Envoy marks a shadow request's authority with "-shadow".
  auto mark = [](std::string& host) {
    auto colon = host.rfind(':');
    bool has_port = colon != std::string::npos && host.find(']', colon) == std::string::npos;
    if (has_port) {
      host.insert(colon, "-shadow");
    } else {
      host += "-shadow";
    }
  };
  for (auto& h : shadow->headers) {
    if (h.name == "host") mark(h.value);
  }
  mark(shadow->authority);
  ambit::route::v1::TrafficPolicy no_policy;
  const auto* tp = policyFor(*d.routes, dest.host(), dest.subset());
  prepare(*shadow, route::upstreamHttp2(targets->protocol, tp ? *tp : no_policy, client_http2));
  auto ep = eps[*idx];
  auto copy = std::make_shared<Downstream>(d);
  ++w.mirrors;
  asio::co_spawn(
      service_.workers().context(d.worker),
      [this, copy, ep, shadow, limits, cluster, slot = std::move(request_slot)]() mutable -> asio::awaitable<void> {
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
        auto up = co_await attempt(*copy, ep, limits, *shadow, deadline, outcome, detail);
        if (!up) {
          log::debug(*logger, "mirror_failed", "endpoint", endpointKey(ep), "error", detail);
          co_return;
        }
        // The response is read and dropped, so the stream can be reused
        // (a copy whose upstream goes quiet ends with the idle timeout).
        StreamDeadline guard(up->stream, deadline, config_.idle_timeout);
        for (int i = 0; !up->done && i < 1000000; ++i) {  // bounded by the deadline too
          up->body.clear();
          if (co_await pullBody(*up) == http::H1ResponseReader::State::kError) break;
        }
        if (up->reusable() && !guard.expired()) {
          releaseStream(w, *up, limits);
        } else {
          up->stream->reset();
        }
      },
      asio::detached);
}

}  // namespace ambit::waypoint
