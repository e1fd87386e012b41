// Waypoint internals shared by proxy.cc, session.cc and upstream.cc.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "waypoint/authz/http_authz.h"
#include "waypoint/http/h2_client.h"
#include "waypoint/proxy/proxy.h"

namespace ambit::waypoint {

struct Waypoint::Downstream {
  std::size_t worker = 0;
  std::optional<tls::Identity> peer;  // the client's node proxy presents the client's identity
  std::string peer_text;              // "spiffe://..." or "-" (logs, metrics)
  uint64_t peer_hash = 0;             // of peer_text (metric series lookups)
  std::string principal;              // "td/ns/x/sa/y" as policies name it ("" without a peer)
  std::string source_ip;              // textual
  ztunnel::WorkloadPtr source;        // the client workload, when known
  std::shared_ptr<const ztunnel::ProxyState> state;
  std::shared_ptr<const RouteTable> routes;
  std::vector<const ambit::authz::v1::HttpPolicy*> policies;  // of `routes`, for this service
  ztunnel::ServicePtr service;  // the service dialled
  uint16_t port = 0;            // its port
  std::string vip;              // "ip:port" dialled (the CONNECT :authority)
  std::string vip_ip;           // its address, textual
  // HTTP/2: what the connection's streamed request bodies keep for resending, together.
  std::shared_ptr<http::KeepBudget> keep_budget;
};

// A request as it goes upstream, made once and sent by each attempt (and
// mirrors): HTTP/1.1 bytes, or the fields of an HTTP/2 request.
struct Waypoint::Outbound {
  std::string method;
  std::string target;                  // origin-form, with the query
  std::string authority;               // the host field (HTTP/2's :authority)
  std::vector<route::Header> headers;  // forwardable fields, host included
  std::shared_ptr<http::RequestBody> body;
  bool http2 = false;  // route::upstreamHttp2
  // HTTP/1.1 upstreams: the serialization, whole; or, for a body still
  // arriving (`streamed`), the head alone, the body following as it comes
  // (chunked when no length was declared).
  std::string h1;
  bool streamed = false;
  bool chunked = false;
};

// An attempt's request body on its way upstream, sent by a coroutine beside
// the reading of the response (pumpBody in upstream.cc).
struct Waypoint::BodyPump {
  bool cancelled = false;  // the attempt was given up: it stops at its next step
  bool finished = false;
  bool ok = false;  // all of the body went
};

// An upstream exchange whose response head arrived: the body is relayed from here.
struct Waypoint::Upstream {
  std::shared_ptr<hbone::Stream> stream;
  std::unique_ptr<http::H1ResponseReader> reader;  // an HTTP/1.1 upstream
  std::shared_ptr<http::H2Client> h2;              // an HTTP/2 upstream: its session on `stream`
  std::shared_ptr<BodyPump> pump;                  // the request body still being sent, if it was streamed
  std::string in;    // HTTP/1.1: read from the stream, not yet parsed
  std::string body;  // body bytes not yet relayed
  upstream::Endpoint endpoint;
  unsigned uses = 1;  // requests the stream has carried, this one included
  bool done = false;  // the response is complete

  const http::ResponseHead& head() const { return h2 ? h2->head() : reader->head(); }
  const std::string& error() const { return h2 ? h2->error() : reader->error(); }
  // The response's trailers (HTTP/2 upstreams; gRPC's status is there).
  const std::vector<route::Header>& trailers() const;
  // Complete, and the stream can carry another request (nothing unread, the
  // whole request sent).
  bool reusable() const {
    return done && (!pump || pump->ok) && (h2 ? h2->reusable() : head().keep_alive && in.empty());
  }
  Upstream() = default;
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;
  // A request body still being sent is given up with the attempt (the stream is reset).
  ~Upstream();
};

// Resets an HBONE stream if a deadline passes first (scoped: destroy it when
// the guarded operations are done). With `idle`, also once that long passes
// with no bytes moving on the stream (Envoy's stream idle timeout), counted
// from when the guard was made at the earliest. `also` runs when it fires
// (e.g. to reset the client's side too, whose writer may be the one stuck).
// Its handler may already be queued when the operation wins, so the handler
// checks the deadline is still armed.
class StreamDeadline {
 public:
  using Clock = std::chrono::steady_clock;
  StreamDeadline(const std::shared_ptr<hbone::Stream>& s, Clock::time_point at,
                 std::chrono::milliseconds idle = std::chrono::milliseconds(0), std::function<void()> also = {})
      : state_(std::make_shared<State>(s->connection().executor())) {
    state_->stream = s;
    state_->at = at;
    state_->idle = idle;
    state_->since = Clock::now();
    state_->also = std::move(also);
    arm(state_, idle.count() > 0 ? std::min(at, quietUntil(*state_, *s)) : at);
  }
  ~StreamDeadline() {
    state_->armed = false;
    state_->timer.cancel();
  }
  StreamDeadline(const StreamDeadline&) = delete;
  StreamDeadline& operator=(const StreamDeadline&) = delete;
  bool expired() const { return state_->expired; }
  // It was the idle timeout that fired (not the deadline).
  bool idled() const { return state_->idled; }

 private:
  struct State {
    explicit State(const asio::any_io_executor& ex) : timer(ex) {}
    std::weak_ptr<hbone::Stream> stream;
    Clock::time_point at;
    std::chrono::milliseconds idle{0};
    Clock::time_point since;
    std::function<void()> also;
    boost::asio::steady_timer timer;
    bool armed = true;
    bool expired = false;
    bool idled = false;
  };
  static Clock::time_point quietUntil(const State& st, const hbone::Stream& s) {
    return std::max(s.lastActivity(), st.since) + st.idle;
  }
  static void arm(const std::shared_ptr<State>& st, Clock::time_point when) {
    st->timer.expires_at(when);
    st->timer.async_wait([st](boost::system::error_code ec) {
      if (ec || !st->armed) return;
      auto s = st->stream.lock();
      auto now = Clock::now();
      if (s && st->idle.count() > 0 && now < st->at) {
        auto quiet_until = quietUntil(*st, *s);
        if (quiet_until > now) {  // something moved meanwhile: not idle yet
          arm(st, std::min(st->at, quiet_until));
          return;
        }
        st->idled = true;
      }
      st->expired = true;
      if (s) s->reset();
      if (st->also) st->also();
    });
  }
  std::shared_ptr<State> state_;
};

// Where a request's response goes: the tunnel's HTTP/1.1 byte stream, or one
// stream of the client's HTTP/2 connection. Each returns false when the
// client is gone.
class Responder {
 public:
  virtual ~Responder() = default;
  // A complete response the waypoint makes itself; `bytes`: what it came to.
  virtual asio::awaitable<bool> local(int status, std::string_view body, const std::vector<route::Header>& extra,
                                      uint64_t& bytes) = 0;
  // The head of a relayed response. `fields` are the forwardable ones (with
  // the length a HEAD or 304 states); `length`: the body's, when known;
  // `no_body`: HEAD, 204, 304.
  // `complete`: nothing follows the head (no body, no trailers), so an
  // HTTP/2 response ends with it (gRPC's trailers-only form).
  virtual asio::awaitable<bool> head(int status, std::string_view reason, std::vector<route::Header>& fields,
                                     std::optional<uint64_t> length, bool no_body, bool complete,
                                     uint64_t& bytes) = 0;
  virtual asio::awaitable<bool> body(std::string_view data) = 0;
  // HTTP/2 clients get the upstream's trailers; HTTP/1.1 ones do not (as
  // Envoy by default).
  virtual asio::awaitable<bool> end(const std::vector<route::Header>& trailers) = 0;
  // The head is out but the body cannot be finished: the client must see a reset.
  virtual void abort() = 0;
  // HTTP/1.1: the connection ends after this response.
  virtual void closeAfter() {}
  // HTTP/1.1: the connection can carry another request after this response.
  virtual bool keepAlive() const { return true; }
};

// What authorization knows of a tunnel before any request: the peer, the
// addresses, the service port.
authz::RequestAttributes connectionAttributes(const Waypoint::Downstream& d);

// A uniform draw in [0, 1) (per thread): weights, faults, mirrors, load balancing.
double draw();
// The DestinationRule traffic policy for a host and subset ("" = the host's);
// null when the host has none.
const ambit::route::v1::TrafficPolicy* policyFor(const RouteTable& routes, const std::string& host,
                                                 const std::string& subset);
// Envoy's local reply for a circuit breaker's overflow (503, flag UO).
inline constexpr std::string_view kOverflowBody =
    "upstream connect error or disconnect/reset before headers. reset reason: overflow";

// Ends a tunnel whose client may still be sending: half-close, then read and
// drop what comes until the client closes too (bounded in time and bytes).
asio::awaitable<void> lingerClose(const std::shared_ptr<hbone::Stream>& stream);

// Reads from a stream into `out` (appends); 0 at END_STREAM or on a reset /
// dead connection (then `error` says why).
asio::awaitable<std::size_t> readSome(hbone::Stream& s, std::string& out, std::string& error);
// An HTTP/2 transport on an HBONE stream.
http::H2Transport transportOver(const std::shared_ptr<hbone::Stream>& stream);
// The next piece of an upstream response body into up.body (kBody with a
// non-empty body), its end (kDone, up.done set) or a failure (kError):
// what is buffered is parsed first; the stream is read only when that makes
// no progress.
asio::awaitable<http::H1ResponseReader::State> pullBody(Waypoint::Upstream& up);
// Writes all of `data`; false when the stream is gone.
asio::awaitable<bool> writeAll(hbone::Stream& s, std::string_view data);

}  // namespace ambit::waypoint
