// One HBONE tunnel's HTTP/1.1 requests: read (smuggling rules, limits),
// normalize, authorize, route, fault, retry with timeouts, relay the response.
#include <functional>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "common/base/ascii.h"
#include "common/log/log.h"
#include "waypoint/authz/http_authz.h"
#include "waypoint/http/normalize.h"
#include "waypoint/trace/context.h"
#include "waypoint/proxy/internal.h"

namespace ambit::waypoint {

namespace rv1 = ambit::route::v1;
using Clock = std::chrono::steady_clock;

double draw() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  return std::uniform_real_distribution<double>(0.0, 1.0)(rng);
}

const rv1::TrafficPolicy* policyFor(const RouteTable& routes, const std::string& host,
                                    const std::string& subset) {
  const auto* h = routes.host(host);
  if (h == nullptr) return nullptr;
  for (const auto& s : h->config().subsets()) {
    if (s.name() == subset && s.has_policy()) return &s.policy();
  }
  return &h->config().policy();
}

authz::RequestAttributes connectionAttributes(const Waypoint::Downstream& d) {
  authz::RequestAttributes a;
  if (d.peer) {
    a.principal = d.principal;
    a.source_namespace = d.peer->ns;
  }
  a.source_ip = d.source_ip;
  a.remote_ip = d.source_ip;
  a.destination_ip = d.vip_ip;
  a.port = d.port;
  return a;
}

namespace {

std::string requestId() {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  uint64_t a = rng(), b = rng();
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32, (a >> 16) & 0xffff, a & 0xfff,
                     0x8000 | ((b >> 48) & 0x3fff), b & 0xffffffffffffull);
}

asio::awaitable<void> sleepFor(std::chrono::milliseconds d) {
  asio::steady_timer t(co_await asio::this_coro::executor, d);
  co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
}

// The field names a message's Connection field lists (lower-case): hop-by-hop
// too. Usually none, and then nothing is allocated.
std::vector<std::string> connectionOptions(const std::vector<route::Header>& headers) {
  std::vector<std::string> out;
  for (const auto& h : headers) {
    if (h.name != "connection") continue;
    anyListItem(h.value, [&](std::string_view token) {
      if (!token.empty()) out.push_back(asciiLowered(token));
      return false;
    });
  }
  return out;
}

bool forwardable(std::string_view name, const std::vector<std::string>& connection_options) {
  return !http::hopByHop(name) &&
         std::find(connection_options.begin(), connection_options.end(), name) == connection_options.end();
}

void setHeader(std::vector<route::Header>& headers, const std::string& name, std::string value) {
  for (auto& h : headers) {
    if (h.name == name) {
      h.value = std::move(value);
      return;
    }
  }
  headers.push_back({name, std::move(value)});
}

bool hasHeader(const std::vector<route::Header>& headers, std::string_view name) {
  for (const auto& h : headers) {
    if (h.name == name) return true;
  }
  return false;
}

std::optional<uint64_t> hashOf(const rv1::TrafficPolicy& p, const http::Request& req,
                               const std::string& source_ip, std::string_view query) {
  if (p.load_balancer() != rv1::TrafficPolicy::CONSISTENT_HASH || !p.has_consistent_hash())
    return std::nullopt;
  const auto& ch = p.consistent_hash();
  switch (ch.key_case()) {
    case rv1::ConsistentHash::kHeader: {
      auto v = req.header(asciiLowered(ch.header()));
      if (v.empty()) return std::nullopt;
      return upstream::hashKey(v);
    }
    case rv1::ConsistentHash::kCookie: {
      auto cookies = req.header("cookie");
      std::string_view c = cookies;
      while (!c.empty()) {
        auto semi = c.find(';');
        auto pair = c.substr(0, semi);
        while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
        auto eq = pair.find('=');
        if (eq != std::string_view::npos && pair.substr(0, eq) == ch.cookie())
          return upstream::hashKey(pair.substr(eq + 1));
        c = semi == std::string_view::npos ? std::string_view() : c.substr(semi + 1);
      }
      return std::nullopt;
    }
    case rv1::ConsistentHash::kSourceIp:
      return upstream::hashKey(source_ip);
    case rv1::ConsistentHash::kQueryParam: {
      auto v = route::queryParam(query, ch.query_param());
      if (!v) return std::nullopt;
      return upstream::hashKey(*v);
    }
    default:
      return std::nullopt;
  }
}

// Envoy's local reply bodies, so clients and dashboards see familiar text.
std::string upstreamFailureBody(route::AttemptOutcome::Failure f, const std::string& detail) {
  using F = route::AttemptOutcome::Failure;
  if (f == F::kPerTryTimeout) return "upstream request timeout";
  if (f == F::kStreamIdle) return "stream timeout";
  return "upstream connect error or disconnect/reset before headers. reset reason: " +
         std::string(f == F::kConnectFailure ? "connection failure" : "connection termination") +
         (detail.empty() ? "" : ", transport failure reason: " + detail);
}

// An HTTP/1.1 tunnel's reading side, shared by its request loop and the body
// source of the request under way (which may outlive the loop's turn: a
// given-up attempt's pump can still be waiting on it).
struct H1Inbound {
  std::shared_ptr<hbone::Stream> stream;
  std::string in;  // read, not yet parsed
  std::optional<http::H1RequestReader> reader;  // the current request's (made in place: no allocation)
  std::chrono::milliseconds idle;                 // a body read that gets nothing this long fails
  bool awaits_continue = false;  // "Expect: 100-continue": the client waits for a 100 before its body
};

// The HTTP/1.1 side of a response: framing (length, chunked, or to the close)
// and keep-alive. A response that starts before the request's body has all
// come ends the connection ("Connection: close"): the rest of that body is
// not waited for before the next request. Once it starts, a client waiting
// to be told to send its body is not told any more.
class H1Responder final : public Responder {
 public:
  H1Responder(H1Inbound& inbound, unsigned version, bool keep, const http::RequestBody& request_body)
      : stream_(*inbound.stream), inbound_(inbound), version_(version), keep_(keep), request_body_(request_body) {}

  asio::awaitable<bool> local(int status, std::string_view body, const std::vector<route::Header>& extra,
                              uint64_t& bytes) override {
    started();
    auto out = http::localResponse(status, body, extra, keep_);
    bytes = out.size();
    co_return co_await writeAll(stream_, out);
  }

  asio::awaitable<bool> head(int status, std::string_view reason, std::vector<route::Header>& fields,
                             std::optional<uint64_t> length, bool no_body, bool /*complete*/,
                             uint64_t& bytes) override {
    started();
    if (no_body) {
      framing_ = Framing::kNone;
    } else if (length) {
      framing_ = Framing::kLength;
      fields.push_back({"content-length", std::to_string(*length)});
    } else if (version_ >= 11) {
      framing_ = Framing::kChunked;
      fields.push_back({"transfer-encoding", "chunked"});
    } else {
      framing_ = Framing::kClose;
      keep_ = false;
    }
    if (!keep_) fields.push_back({"connection", "close"});
    auto out = http::serializeResponseHead(status, reason, fields);
    bytes = out.size();
    co_return co_await writeAll(stream_, out);
  }

  asio::awaitable<bool> body(std::string_view data) override {
    if (framing_ == Framing::kNone) co_return true;
    if (framing_ != Framing::kChunked) co_return co_await writeAll(stream_, data);
    std::string chunk = fmt::format("{:x}\r\n", data.size());
    chunk += data;
    chunk += "\r\n";
    co_return co_await writeAll(stream_, chunk);
  }

  asio::awaitable<bool> end(const std::vector<route::Header>& /*trailers*/) override {
    static constexpr std::string_view kLastChunk = "0\r\n\r\n";
    if (framing_ != Framing::kChunked) co_return true;
    co_return co_await writeAll(stream_, kLastChunk);
  }

  void abort() override { stream_.reset(); }
  void closeAfter() override { keep_ = false; }
  bool keepAlive() const override { return keep_ && framing_ != Framing::kClose; }

 private:
  enum class Framing { kNone, kLength, kChunked, kClose };
  void started() {
    inbound_.awaits_continue = false;
    if (!request_body_.ended()) keep_ = false;
  }
  hbone::Stream& stream_;
  H1Inbound& inbound_;
  unsigned version_;
  bool keep_;
  const http::RequestBody& request_body_;
  Framing framing_ = Framing::kNone;
};

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

// The rest of an HTTP/1.1 request body, parsed from the tunnel as it is read
// (reads are single-flight: http::RequestBody calls one at a time). A client
// waiting to be told to go on gets its 100 when the body is first wanted, so
// a request refused before it goes upstream never has its body sent.
class H1Body final : public http::BodySource {
 public:
  explicit H1Body(std::shared_ptr<H1Inbound> c) : c_(std::move(c)) {}

  asio::awaitable<bool> read(std::string& out, bool& end) override {
    auto& c = *c_;
    if (c.awaits_continue) {
      c.awaits_continue = false;
      if (!co_await writeAll(*c.stream, kContinue)) co_return false;
    }
    // Bounded: each turn reads the stream (the idle deadline ends a silent one).
    for (int turn = 0; turn < 1'000'000; ++turn) {
      // Measured around the parse alone: `out` may lose its front while the
      // stream is read (RequestBody::sent).
      const std::size_t had = out.size();
      auto st = c.reader->feedBody(c.in, out);
      if (st == http::H1RequestReader::State::kError) co_return false;
      if (st == http::H1RequestReader::State::kDone) {
        end = true;
        co_return true;
      }
      if (out.size() > had) co_return true;
      StreamDeadline deadline(c.stream, Clock::now() + c.idle);
      std::string err;
      if (co_await readSome(*c.stream, c.in, err) == 0) co_return false;  // cut short, reset, or idle
    }
    co_return false;
  }

 private:
  std::shared_ptr<H1Inbound> c_;
};

}  // namespace

namespace {

// Reads and drops what the client sends until it closes, at most `reads` reads.
asio::awaitable<void> dropUntilClosed(hbone::Stream& stream, int reads) {
  std::string sink;
  for (int i = 0; i < reads; ++i) {
    sink.clear();
    std::string err;
    if (co_await readSome(stream, sink, err) == 0) co_return;
  }
}

constexpr int kLingerReads = 64;  // with 16 KiB reads, about 1 MiB

}  // namespace

// Returning with the client's side open would reset the stream, and a reset
// can overtake the response still queued (the client would never see its 400).
asio::awaitable<void> lingerClose(const std::shared_ptr<hbone::Stream>& stream) {
  stream->closeWrite();
  StreamDeadline deadline(stream, Clock::now() + std::chrono::seconds(2));
  co_await dropUntilClosed(*stream, kLingerReads);
}

void Waypoint::refused(Downstream& d, int status, const std::string& reason,
                       std::chrono::steady_clock::time_point started, uint64_t response_bytes) {
  static auto logger = log::scope("waypoint.http");
  countRequest(*workers_[d.worker], d, nullptr, status, Flag::kBadRequest, started, 0, response_bytes);
  if (config_.access_log) {
    log::info(*logger, "access", "src", d.source_ip, "authority", d.vip, "status", status, "flags",
              flagName(Flag::kBadRequest), "detail", reason);
  }
}

// Ends a tunnel whose request body is still arriving: its rest is read
// through the body (a given-up attempt may be reading it: the tunnel has
// one reader at a time), then, as lingerClose, whatever the client sends
// until it closes, so that the end of the tunnel does not overtake the
// response. Bounded like lingerClose: 2 s and 64 reads.
asio::awaitable<void> lingerBody(const std::shared_ptr<hbone::Stream>& stream, http::RequestBody& body) {
  stream->closeWrite();
  StreamDeadline deadline(stream, Clock::now() + std::chrono::seconds(2));
  int reads = 0;
  for (; reads < kLingerReads && !body.ended() && !body.failed(); ++reads) {
    co_await body.wait(body.received());
    body.sent(body.received());
  }
  if (!body.ended() && !body.failed()) co_return;  // out of reads: the tunnel is reset
  // No read of the body is under way now: the stream is ours to read.
  co_await dropUntilClosed(*stream, kLingerReads - reads);
}

asio::awaitable<void> Waypoint::serveHttp1(std::shared_ptr<hbone::Stream> stream, Downstream& d,
                                           std::string in) {
  auto c = std::make_shared<H1Inbound>();
  c->stream = stream;
  c->in = std::move(in);
  c->idle = config_.idle_timeout;
  for (uint64_t n = 0;; ++n) {  // one request per round; ends with the peer, an error, or a timeout
    auto& reader = c->reader.emplace(config_.limits);
    c->awaits_continue = false;
    auto state = http::H1RequestReader::State::kNeedMore;
    bool timed_out = false;
    {
      // Idle until the first byte of a request, then the head must be in
      // within the header timeout.
      auto deadline = std::make_unique<StreamDeadline>(
          stream, Clock::now() + (c->in.empty() ? config_.idle_timeout : config_.request_header_timeout));
      bool started = !c->in.empty();
      for (;;) {
        state = reader.feedHead(c->in);
        if (state != http::H1RequestReader::State::kNeedMore) break;
        std::string err;
        std::size_t got = co_await readSome(*stream, c->in, err);
        if (got == 0) {
          if (deadline->expired()) timed_out = true;
          if (!started || timed_out) {
            if (!timed_out) stream->closeWrite();
            co_return;  // the client is done (or idle too long): the tunnel ends
          }
          state = reader.finish();
          break;
        }
        if (!started) {
          started = true;
          deadline = std::make_unique<StreamDeadline>(stream, Clock::now() + config_.request_header_timeout);
        }
      }
    }
    http::Request req;
    if (state == http::H1RequestReader::State::kHead) {
      // The body: whole if it came with the head, else streamed as it comes.
      req = reader.takeRequest();
      state = reader.feedBody(c->in, req.body);
    }
    if (state == http::H1RequestReader::State::kError) {
      auto started = Clock::now();
      auto body = std::string(http::reasonPhrase(reader.errorStatus()));
      auto reply = http::localResponse(reader.errorStatus(), body, {}, false);
      co_await writeAll(*stream, reply);
      refused(d, reader.errorStatus(), reader.errorReason(), started, reply.size());
      co_await lingerClose(stream);
      co_return;
    }
    std::shared_ptr<http::RequestBody> body;
    if (state == http::H1RequestReader::State::kDone) {
      body = std::make_shared<http::RequestBody>(std::move(req.body));
    } else {
      // HTTP/1.0 clients get no 1xx (RFC 9110 15.2).
      c->awaits_continue = req.version >= 11 && equalsIgnoreCase(req.header("expect"), "100-continue");
      auto ex = co_await asio::this_coro::executor;
      body = std::make_shared<http::RequestBody>(ex, std::move(req.body), std::make_unique<H1Body>(c),
                                                 config_.limits.max_body_bytes, reader.declaredLength());
    }
    H1Responder responder(*c, req.version, req.keep_alive, *body);
    bool keep = co_await handleRequest(responder, d, std::move(req), body);
    if (!body->ended()) {
      // Answered before the body was all in (the response said "close").
      c->awaits_continue = false;  // the client that waits for a 100 gets none now
      co_await lingerBody(stream, *body);
      co_return;
    }
    if (!keep) {
      co_await lingerClose(stream);
      co_return;
    }
  }
}

asio::awaitable<bool> Waypoint::handleRequest(Responder& resp, Downstream& d, http::Request req,
                                              std::shared_ptr<http::RequestBody> body) {
  static auto logger = log::scope("waypoint.http");
  auto started = Clock::now();
  Worker& w = *workers_[d.worker];
  d.state = state_.current();
  if (auto routes = routes_.current(); routes != d.routes) {
    d.routes = std::move(routes);
    d.policies = d.routes->policiesFor(config_.ns, config_.name, d.service->namespace_(), d.service->name());
  }
  // This request's route table, held: the connection's other requests
  // (HTTP/2 streams) may move d.routes on while this one waits, and the
  // route pointers below point into this table.
  const std::shared_ptr<const RouteTable> routes = d.routes;
  const bool head_only = req.method == "HEAD";
  const bool client_http2 = req.version >= 20;
  const bool grpc = route::isGrpc(req.header("content-type"));
  int grpc_status = -1;  // the answer's grpc-status (gRPC requests)
  uint64_t head_bytes = req.method.size() + req.target.size();
  for (const auto& h : req.headers) head_bytes += h.name.size() + h.value.size() + 4;
  std::string authority = req.header("host");
  const upstream::Endpoint* served_by = nullptr;
  std::string request_id = req.header("x-request-id");
  const auto trace = startTrace(req);  // nullopt without a collector
  auto finish = [&](int status, Flag flag, uint64_t response_bytes, const std::string& route_name,
                    const std::string& detail) {
    const uint64_t request_bytes = head_bytes + body->received();
    countRequest(w, d, served_by, status, flag, started, request_bytes, response_bytes,
                 grpc ? grpc_status : kNotGrpc);
    if (trace) {
      endTrace(*trace, d,
               SpanFacts{&req, &authority, status, flag, &route_name, served_by, request_bytes, response_bytes,
                         &request_id});
    }
    if (!config_.access_log) return;
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
    log::info(*logger, "access", "src", d.source_ip, "principal", d.peer_text, "method",
              req.method, "authority", authority, "path", req.target, "status", status, "flags",
              flagName(flag), "route", route_name.empty() ? "-" : route_name, "upstream",
              served_by ? served_by->workload->namespace_() + "/" + served_by->workload->name() : "-",
              "duration_ms", ms, "request_id", request_id.empty() ? "-" : request_id, "detail",
              detail.empty() ? "-" : detail);
  };
  // A response the waypoint makes itself: set() says what, send() writes it
  // (two steps, so no temporaries live in a co_await: GCC 12).
  struct Local {
    int status = 0;
    std::string body;
    Flag flag = Flag::kNone;
    std::vector<route::Header> extra;
    std::string route_name, detail;
  } pending;
  auto set = [&pending](int status, std::string body, Flag flag, std::vector<route::Header> extra,
                        std::string route_name, std::string detail) {
    pending =
        Local{status, std::move(body), flag, std::move(extra), std::move(route_name), std::move(detail)};
  };
  auto send = [&]() -> asio::awaitable<bool> {
    // No body on a HEAD response, a 204 or a 304 (a client would take it for
    // the start of the next response, or as a protocol error).
    if (head_only || pending.status == 204 || pending.status == 304) pending.body.clear();
    if (grpc && pending.status >= 400) {
      // As Envoy answers a gRPC caller: 200, trailers-only, the status in grpc-status.
      grpc_status = route::grpcStatusForHttp(pending.status);
      std::erase_if(pending.extra, [](const route::Header& h) { return h.name == "content-type"; });
      pending.extra.push_back({"content-type", "application/grpc"});
      pending.extra.push_back({"grpc-status", std::to_string(grpc_status)});
      if (!pending.body.empty()) pending.extra.push_back({"grpc-message", route::grpcMessage(pending.body)});
      pending.status = 200;
      pending.body.clear();
    }
    uint64_t bytes = 0;
    bool ok = co_await resp.local(pending.status, pending.body, pending.extra, bytes);
    finish(pending.status, pending.flag, bytes, pending.route_name, pending.detail);
    co_return (ok && resp.keepAlive());
  };

  // 1. The path routes and policy see is the path the backend gets.
  auto target = http::normalizeTarget(req.target, config_.normalize);
  if (!target) {
    resp.closeAfter();
    set(400, "Bad Request", Flag::kBadRequest, {}, "", target.error().message);
    co_return co_await send();
  }

  // 2. L7 authorization.
  if (!d.policies.empty()) {
    authz::RequestAttributes a = connectionAttributes(d);
    a.host = http::hostWithoutPort(authority);
    a.authority = http::normalizeHost(authority);
    a.method = req.method;
    a.path = target->path;
    a.headers = &req.headers;
    auto decision = authz::decide(d.policies, a);
    for (const auto& dr : decision.dry_run)
      log::info(*logger, "authz_dry_run", "src", d.source_ip, "detail", dr);
    if (!decision.allowed) {
      set(403, "RBAC: access denied", Flag::kRbac, {}, "", decision.reason);
      co_return co_await send();
    }
  }

  // 3. Routing.
  const std::string& svc_host = d.service->hostname();
  const route::CompiledHost* host = routes->host(svc_host);
  const rv1::HttpRoute* r = nullptr;
  const rv1::RouteMatch* matched = nullptr;
  const route::CompiledRoute* cr = nullptr;
  if (host != nullptr && host->hasRoutes()) {
    route::RequestView view{req.method, target->path, target->query, authority, &req.headers, d.port};
    cr = host->select(view, &matched);
    if (cr == nullptr) {
      set(404, "", Flag::kNoRoute, {}, "", "no route matched");
      co_return co_await send();
    }
    r = cr->route;
  }
  std::string route_name = r ? r->name() : "";

  rv1::Destination fallback;
  const rv1::Destination* dest = &fallback;
  if (r != nullptr) {
    if (r->has_fault()) {
      auto f = route::decideFault(r->fault(), draw(), draw());
      if (f.delay.count() > 0) co_await sleepFor(f.delay);
      if (f.abort_status != 0) {
        set(f.abort_status, "fault filter abort", Flag::kFaultAbort, {}, route_name, "");
        co_return co_await send();
      }
    }
    if (r->has_redirect()) {
      auto loc = route::redirectLocation(r->redirect(), matched, "http", authority, target->path,
                                         target->has_query ? target->query : "");
      int status = r->redirect().status() != 0 ? static_cast<int>(r->redirect().status()) : 301;
      set(status, "", Flag::kNone, {{"location", loc}}, route_name, "");
      co_return co_await send();
    }
    if (r->direct_status() != 0) {
      set(static_cast<int>(r->direct_status()), "", Flag::kNone, {}, route_name, "");
      co_return co_await send();
    }
    auto idx = route::pickWeighted(cr->weights, draw());
    if (!idx) {
      set(500, "", Flag::kNoRoute, {}, route_name, "route has no destination");
      co_return co_await send();
    }
    dest = &r->destinations(static_cast<int>(*idx));
    if (!dest->unresolved().empty()) {
      set(500, "", Flag::kNoRoute, {}, route_name, dest->unresolved());
      co_return co_await send();
    }
  } else {
    fallback.set_host(svc_host);
  }

  // 4. Where it goes.
  const std::string ns_hint = host != nullptr ? host->config().namespace_() : d.service->namespace_();
  uint16_t port = dest->port() != 0 ? static_cast<uint16_t>(dest->port()) : d.port;
  auto targets = targetsFor(w, d, *dest, ns_hint, port);
  if (!targets->service) {
    set(503, "no healthy upstream", Flag::kNoHealthy, {}, route_name, "unknown host " + dest->host());
    co_return co_await send();
  }
  const auto& endpoints = targets->endpoints;
  if (endpoints.empty()) {
    set(503, "no healthy upstream", Flag::kNoHealthy, {}, route_name, "");
    co_return co_await send();
  }
  rv1::TrafficPolicy no_policy;
  const rv1::TrafficPolicy* tp = policyFor(*routes, dest->host(), dest->subset());
  if (tp == nullptr) tp = &no_policy;
  auto outlier = upstream::outlierPolicy(*tp);
  // Circuit breaking (connectionPool, retryBudget): counted only when the destination has limits.
  const auto& limits = targets->limits;
  const auto& cluster = targets->cluster;

  // Read before the headers move into the upstream request.
  auto hash = hashOf(*tp, req, d.source_ip, target->query);
  if (req.header("x-request-id").empty()) req.headers.push_back({"x-request-id", requestId()});
  request_id = req.header("x-request-id");

  // 5. The request sent upstream.
  std::vector<route::Header> headers;
  headers.reserve(req.headers.size() + 4);
  auto request_options = connectionOptions(req.headers);
  bool te_trailers = false;
  for (auto& h : req.headers) {
    if (h.name == "te") {
      anyListItem(h.value, [&](std::string_view token) {
        te_trailers = te_trailers || equalsIgnoreCase(token, "trailers");
        return te_trailers;
      });
    } else if (h.name != "expect" && forwardable(h.name, request_options)) {
      headers.push_back(std::move(h));
    }
  }
  // TE is hop-by-hop, but "trailers" passes (as Envoy): gRPC servers refuse a request without it.
  if (te_trailers) headers.push_back({"te", "trailers"});
  std::string path = target->path;
  if (r != nullptr) {
    route::applyHeaderOps(r->request_headers(), headers);
    route::applyHeaderOps(dest->request_headers(), headers);
    if (r->has_rewrite()) {
      path = route::rewritePath(r->rewrite(), matched, path);
      if (!r->rewrite().authority().empty()) setHeader(headers, "host", r->rewrite().authority());
    }
  }
  if (!hasHeader(headers, "host")) headers.push_back({"host", authority.empty() ? d.vip : authority});
  if (!hasHeader(headers, "x-forwarded-proto")) headers.push_back({"x-forwarded-proto", "http"});
  if (trace) trace::inject(headers, trace->trace_id, trace->span_id, trace->parent_id, trace->sampled);
  Outbound out_req;
  out_req.target = target->has_query ? path + "?" + target->query : path;
  if (std::any_of(out_req.target.begin(), out_req.target.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f; })) {
    // Only a rewrite can put these here: never split the upstream request line.
    set(500, "", Flag::kNone, {}, route_name, "rewritten path has a space or control character");
    co_return co_await send();
  }
  out_req.method = req.method;
  for (const auto& h : headers) {
    if (h.name == "host") out_req.authority = h.value;
  }
  out_req.headers = std::move(headers);
  out_req.body = body;
  // Mirrors copy the whole body: one still arriving is copied when it has
  // ended (kept whole within the retry buffer), as this request finishes.
  std::vector<const rv1::Destination*> later;
  if (r != nullptr) {
    for (const auto& m : r->mirrors()) {
      if (draw() * 100.0 >= m.percent()) continue;
      if (body->ended()) {
        mirror(d, m.destination(), out_req, client_http2);
      } else {
        later.push_back(&m.destination());
      }
    }
  }
  struct AtExit {
    std::function<void()> fn;
    ~AtExit() {
      try {
        if (fn) fn();
      } catch (const std::exception&) {
        // A copy that cannot be made is dropped, as any mirror.
      }
    }
  } mirror_later;
  if (!later.empty()) {
    mirror_later.fn = [this, &d, &later, &out_req, &body, client_http2] {
      static auto mlog = log::scope("waypoint.mirror");
      if (!body->ended() || !body->replayable()) {
        log::debug(*mlog, "mirror_dropped", "reason", "the request body did not end within the retry buffer");
        return;
      }
      for (const auto* m : later) mirror(d, *m, out_req, client_http2);
    };
  }
  // HTTP/2 for ports declared http2/grpc, or as the DestinationRule or the client says.
  prepare(out_req, route::upstreamHttp2(targets->protocol, *tp, client_http2));

  // 6. Attempts, with retries and timeouts.
  rv1::Retry retry = r != nullptr ? r->retry() : rv1::Retry();
  auto route_deadline = r != nullptr && r->timeout_ms() > 0
                            ? started + std::chrono::milliseconds(r->timeout_ms())
                            : Clock::time_point::max();
  std::vector<std::string> tried;
  std::unique_ptr<Upstream> up;
  route::AttemptOutcome outcome;
  std::string detail;
  bool overflow = false;  // a circuit breaker refused the attempt
  Flag flag = Flag::kNone;
  const upstream::Endpoint* last_ep = nullptr;
  upstream::Slot connection_slot, request_slot, retry_slot;
  for (unsigned attempt_no = 1;; ++attempt_no) {
    if (cluster) {
      // As Envoy: room among the requests in flight (http2MaxRequests) is
      // checked on arrival, then a connection (maxConnections), waiting in
      // line if needs be (http1MaxPendingRequests); the request counts once
      // it has its connection. Each attempt, retries too.
      connection_slot.release();
      request_slot.release();
      if (!cluster->requestRoom(limits)) {
        overflow = true;
        detail = "max requests (http2MaxRequests) reached";
        break;
      }
      auto wait_until = std::min(route_deadline, Clock::now() + config_.pending_timeout);
      upstream::Cluster::Wait why{};
      connection_slot = co_await cluster->connection(limits, wait_until, true, why);
      if (!connection_slot) {
        if (Clock::now() >= route_deadline) {
          outcome.failure = route::AttemptOutcome::Failure::kPerTryTimeout;
          flag = Flag::kUpstreamTimeout;
          detail = "route timeout while waiting for a connection";
        } else {
          overflow = true;
          detail = why == upstream::Cluster::Wait::kOverflow ? "pending requests (http1MaxPendingRequests) overflow"
                                                             : "no connection (maxConnections) within the pending timeout";
        }
        break;
      }
      request_slot = cluster->tryRequest(limits);
      if (!request_slot) {  // others took the room while this one waited
        overflow = true;
        detail = "max requests (http2MaxRequests) reached";
        break;
      }
    }
    auto pick = pickInput(w, *tp);
    pick.hash = hash;
    auto now = Clock::now();
    pick.avoid = [&](const upstream::Endpoint& e) {
      return (outlier.enabled() && outliers_.ejected(e.key(), now)) ||
             std::find(tried.begin(), tried.end(), e.key()) != tried.end();
    };
    auto idx = upstream::pickEndpoint(endpoints, pick);
    const upstream::Endpoint& ep = endpoints[*idx];
    last_ep = &ep;
    tried.push_back(ep.key());
    auto deadline = route_deadline;
    if (retry.per_try_timeout_ms() > 0) {
      deadline = std::min(deadline, now + std::chrono::milliseconds(retry.per_try_timeout_ms()));
    }
    ++w.active[ep.key()];
    up = co_await attempt(d, ep, limits, out_req, deadline, outcome, detail);
    retry_slot.release();
    if (--w.active[ep.key()] == 0) w.active.erase(ep.key());
    // A stream that went quiet says nothing of the endpoint (the client may
    // have stopped sending): it does not count toward ejecting it.
    if (outcome.failure != route::AttemptOutcome::Failure::kStreamIdle) {
      outliers_.record(dest->host(), ep.key(), up ? outcome.status : 0, outlier, endpoints.size(), Clock::now());
    }
    if (Clock::now() >= route_deadline) {
      if (up) up->stream->reset();
      up.reset();
      outcome.failure = route::AttemptOutcome::Failure::kPerTryTimeout;
      flag = Flag::kUpstreamTimeout;
      detail = "route timeout";
      break;
    }
    if (attempt_no > retry.attempts() || !route::retriable(retry, outcome)) break;
    if (!body->replayable() || body->failed()) {  // the body cannot be sent again
      const char* why = body->failed() ? "the client broke off the request body" : "request body beyond the retry buffer";
      detail += detail.empty() ? why : std::string("; ") + why;
      break;
    }
    if (cluster) {
      // Retries in flight are bounded too (maxRetries, retryBudget): else this answer stands.
      retry_slot = cluster->tryRetry(limits);
      if (!retry_slot) {
        detail += detail.empty() ? "retry overflow" : "; retry overflow";
        break;
      }
    }
    if (up) up->stream->reset();
    up.reset();
    connection_slot.release();  // nothing in flight during the backoff
    request_slot.release();
    auto backoff = route::retryBackoff(retry, attempt_no, draw());
    if (Clock::now() + backoff >= route_deadline) {
      outcome.failure = route::AttemptOutcome::Failure::kPerTryTimeout;
      flag = Flag::kUpstreamTimeout;
      detail = "route timeout";
      break;
    }
    co_await sleepFor(backoff);
  }
  served_by = last_ep;
  if (overflow) {
    set(503, std::string(kOverflowBody), Flag::kOverflow, {{"x-envoy-overloaded", "true"}}, route_name, detail);
    co_return co_await send();
  }
  if (!up) {
    using F = route::AttemptOutcome::Failure;
    if (flag == Flag::kNone) {
      flag = outcome.failure == F::kPerTryTimeout    ? Flag::kUpstreamTimeout
             : outcome.failure == F::kStreamIdle     ? Flag::kStreamIdleTimeout
             : outcome.failure == F::kConnectFailure ? Flag::kUpstreamConnect
                                                     : Flag::kUpstreamReset;
    }
    // Envoy: 504 for a timeout, 408 for the stream idle timeout, 503 else.
    int status = outcome.failure == F::kPerTryTimeout ? 504 : outcome.failure == F::kStreamIdle ? 408 : 503;
    set(status, upstreamFailureBody(outcome.failure, detail), flag, {}, route_name, detail);
    co_return co_await send();
  }

  // 7. The response, streamed back. (`head` lives in `up` until the stream is released.)
  const auto& head = up->head();
  const int status = head.status;
  grpc_status = outcome.grpc_status;
  std::vector<route::Header> out;
  out.reserve(head.headers.size() + 2);
  auto response_options = connectionOptions(head.headers);
  for (const auto& h : head.headers) {
    if (forwardable(h.name, response_options)) out.push_back(h);
  }
  if (r != nullptr) {
    route::applyHeaderOps(dest->response_headers(), out);
    route::applyHeaderOps(r->response_headers(), out);
  }
  bool no_body = head_only || head.status == 204 || head.status == 304;
  std::optional<uint64_t> length;
  if (no_body) {
    // HEAD and 304 may say the length of what they did not send; a 204 never has one.
    auto cl = head.header("content-length");
    if (!cl.empty() && head.status != 204) out.push_back({"content-length", cl});
  } else {
    length = head.content_length;
  }
  uint64_t response_bytes = 0;
  bool complete = up->done && up->body.empty() && up->trailers().empty();
  // The head and body: within the route timeout, if any, and while something
  // moves. Firing resets the client's side too: the relay may be the one
  // stuck, writing to a client that stopped reading.
  std::optional<StreamDeadline> body_deadline;
  body_deadline.emplace(up->stream, route_deadline, config_.idle_timeout, [&resp] { resp.abort(); });
  bool down_ok = co_await resp.head(head.status, head.reason, out, length, no_body, complete, response_bytes);
  bool up_ok = true;
  for (uint64_t rounds = 0; down_ok; ++rounds) {  // bounded by the upstream's body and the deadline
    if (!up->body.empty()) {
      response_bytes += up->body.size();
      down_ok = co_await resp.body(up->body);
      up->body.clear();
      continue;
    }
    if (up->done) break;
    if (co_await pullBody(*up) == http::H1ResponseReader::State::kError) {
      up_ok = false;
      detail = body_deadline->idled()     ? "stream idle timeout during the response body"
               : body_deadline->expired() ? "route timeout during the response body"
                                          : up->error();
      break;
    }
  }
  // The trailers pass as they are (route header operations are for the head, as Envoy's).
  for (const auto& t : up->trailers()) {
    if (t.name == "grpc-status") grpc_status = route::grpcStatusValue(t.value);
  }
  if (down_ok && up_ok) down_ok = co_await resp.end(up->trailers());
  if (body_deadline->expired() && up_ok) {
    // It fired while the relay waited on the client (whose side it reset):
    // the timeout, not the client, ended the response.
    up_ok = false;
    detail = body_deadline->idled() ? "stream idle timeout during the response body"
                                    : "route timeout during the response body";
  }
  bool clean = up->done && up_ok;
  const bool idled = body_deadline->idled();
  body_deadline.reset();
  // Reused only when nothing beyond the response came: stray bytes would be
  // read as the next client's response.
  if (clean && up->reusable()) {
    releaseStream(w, *up, limits);
  } else {
    up->stream->reset();
  }
  if (!up_ok) {
    // The head is out: the client can only learn of the failure by the reset.
    resp.abort();
    finish(status, idled ? Flag::kStreamIdleTimeout : Flag::kUpstreamReset, response_bytes, route_name, detail);
    co_return false;
  }
  finish(status, down_ok ? Flag::kNone : Flag::kDownstreamReset, response_bytes, route_name, "");
  co_return down_ok && resp.keepAlive();
}

}  // namespace ambit::waypoint
