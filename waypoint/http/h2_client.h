// HTTP/2 to an upstream (nghttp2's client over memory I/O), inside one HBONE
// stream to the endpoint's node proxy (prior knowledge: h2c). For ports
// declared http2/grpc, and where a DestinationRule asks for HTTP/2
// (h2UpgradePolicy: UPGRADE, useClientProtocol with an HTTP/2 client).
//
// Pull-driven: nothing runs in the background. The session moves only inside
// next(): it writes what nghttp2 has to send (the request, window updates,
// SETTINGS and PING acks), and reads from the transport only when the caller
// wants more of the response, so a slow client is the upstream's
// backpressure (the stream window is refilled only as bytes are read) and
// the session needs no lifetime of its own.
//
// One request at a time: the waypoint's pool keeps an idle session for the
// next request to the same endpoint (HBONE already multiplexes its streams on
// one mTLS connection, so a session per request in flight costs no
// handshake). A session is reusable only after a clean exchange: its stream
// closed with the response complete, no GOAWAY, nothing unread.
//
// Limits: the response head's size and field count (as the waypoint's own),
// the server's SETTINGS count and queued acks (nghttp2's caps). Trailers are
// kept (gRPC's status is in them).
//
// Single-threaded: use it on one executor.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/runtime/event.h"
#include "waypoint/http/h1_response.h"
#include "waypoint/http/h2_transport.h"

struct nghttp2_session;

namespace ambit::waypoint::http {

struct H2ClientLimits {
  std::size_t max_header_bytes = 60 * 1024;  // a response head's (or trailers') names and values
  std::size_t max_headers = 100;
  uint32_t window = 1u << 20;  // stream and connection receive window we advertise
};

struct H2ClientRequest {
  std::string_view method;
  std::string_view scheme = "http";
  std::string_view authority;
  std::string_view path;  // origin-form target, with the query
  // Regular fields, lower-case names; connection-specific ones and "host"
  // (it is the :authority) are dropped.
  const std::vector<route::Header>* headers = nullptr;
  std::string_view body;  // copied: the caller may drop it once start() returns
  // More of the body follows through send() (a body still arriving); then
  // `length` is its declared size, if known.
  bool more = false;
  std::optional<uint64_t> length;
};

class H2Client {
 public:
  using State = H1ResponseReader::State;

  static constexpr std::size_t kWriteBuffer = 64u << 10;

  H2Client(asio::any_io_executor ex, H2Transport transport, H2ClientLimits limits);
  ~H2Client();
  H2Client(const H2Client&) = delete;
  H2Client& operator=(const H2Client&) = delete;

  // Submits a request (the first also sends the connection preface). false
  // when the session cannot take one (see reusable()).
  bool start(const H2ClientRequest& req);
  // Moves the exchange on until there is news: kHead once the final response
  // head is in (head()), then kBody with bytes appended to `body`, kDone once
  // the response ended (trailers() then), or kError (error()). Bounded: each
  // round writes or reads, and the transport's deadline bounds reads.
  asio::awaitable<State> next(std::string& body);
  // More of the request body (a request started with `more`), `end` with the
  // last of it. Runs beside next() (a body still streaming while the response
  // is read); waits while more than kWriteBuffer bytes are unsent (the
  // upstream's window, taken in as next() reads, is the backpressure). false
  // once the stream or session is gone.
  asio::awaitable<bool> send(std::string_view data, bool end);
  // Gives up on the exchange (a sender waiting in send() returns false);
  // the session is not used again.
  void abandon();

  const ResponseHead& head() const { return head_; }
  const std::vector<route::Header>& trailers() const { return trailers_; }
  const std::string& error() const { return error_; }
  // Whether any byte of the peer's came since start(): a request that got
  // none on a reused session is safe to send again on a fresh one.
  bool heard() const { return heard_; }
  // Refused by the server before it was processed (GOAWAY below its id,
  // REFUSED_STREAM): safe to send again whatever its method (RFC 9113 8.7).
  bool refused() const { return refused_; }
  // The response ended and all of its body was handed out: next() would say kDone.
  bool complete() const { return head_taken_ && ended_ && pending_.empty(); }
  // The exchange ended cleanly and the session can carry another request.
  bool reusable() const;
  // Requests the session carried.
  unsigned uses() const { return uses_; }

  struct Callbacks;  // nghttp2 callbacks (internal)

 private:
  bool init();
  State ready(std::string& body);
  void fail(std::string why);
  // Writes what the session has to send; a caller that finds another
  // writer at it leaves the writing to that one (it loops until nothing is left).
  asio::awaitable<void> flush();

  H2Transport transport_;
  H2ClientLimits limits_;
  nghttp2_session* session_ = nullptr;
  bool broken_ = false;  // protocol error, transport gone: never again
  bool goaway_ = false;
  bool writing_ = false;
  unsigned uses_ = 0;
  runtime::Event taken_;  // request body bytes were taken, or the exchange ended

  // The exchange in flight.
  int32_t stream_id_ = -1;
  std::string out_;  // request body not yet taken by nghttp2
  std::size_t out_off_ = 0;
  bool out_ended_ = true;  // the request body has no more to come
  bool deferred_ = false;
  ResponseHead head_;
  std::vector<route::Header> trailers_;
  std::size_t header_bytes_ = 0;
  bool in_trailers_ = false;  // a HEADERS after the final head
  bool head_ready_ = false;
  bool head_taken_ = false;
  std::string pending_;  // body bytes received, not yet handed out
  bool ended_ = false;   // END_STREAM came
  bool closed_ = false;  // the stream closed (ended, reset or refused)
  bool heard_ = false;
  bool refused_ = false;
  std::string error_;
};

}  // namespace ambit::waypoint::http
