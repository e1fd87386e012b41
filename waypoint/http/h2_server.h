// HTTP/2 on the downstream side of the waypoint (nghttp2's memory I/O): the
// server half of one client's HTTP/2 connection, carried inside an HBONE
// tunnel (prior knowledge: the client's first bytes are the HTTP/2 preface).
//
// Each request becomes an H2Exchange once its head is in, and the handler runs
// for it (co-spawned on the session's executor) while the body still comes:
// the handler reads it with readBody(), and the client's window is given
// back only as it does (so an upstream that takes the body slowly slows the
// client, and what is queued per stream stays within its window). The
// handler answers through the exchange, whose body writes wait while more
// than kWriteBuffer bytes are queued (the client's flow-control windows are
// the backpressure).
//
// Limits (hardening.md 1-2): concurrent streams; header block size and field
// count (the request is answered 431); the stream and connection receive
// windows (what a client can have queued); nghttp2's caps on
// stream resets (rapid reset), CONTINUATION frames and queued PING/SETTINGS
// acks, each of which ends the session with GOAWAY; a cap on consecutive
// empty DATA frames, and Envoy's on WINDOW_UPDATE and PRIORITY frames
// (common/hbone/flood.h); handlers still running for reset streams count against
// a cap (new streams are refused beyond it); a request's head must be in
// within request_timeout, a response the client takes nothing of for
// stall_timeout is reset, and a session with no stream ends after
// idle_timeout, and a stream whose body and response have not moved for
// idle_timeout is reset (Envoy's stream idle timeout). A stream answered before its request ended (431, or an
// upstream that answered early) is then reset with NO_ERROR, so the client
// stops sending (RFC 9113 8.1). Request trailers are not kept.
// nghttp2 checks the message rules (pseudo-headers, connection-specific
// fields, content-length against the DATA received).
//
// Single-threaded: everything runs on the executor given to create().
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/hbone/flood.h"
#include "common/runtime/event.h"
#include "waypoint/http/h1_request.h"
#include "waypoint/http/h2_transport.h"

struct nghttp2_session;

namespace ambit::waypoint::http {

namespace asio = boost::asio;

struct H2ServerLimits {
  uint32_t max_concurrent_streams = 100;
  uint32_t stream_window = 1u << 20;  // per-stream receive window we advertise
  std::size_t max_header_bytes = 60 * 1024;
  std::size_t max_headers = 100;
  uint32_t reset_burst = 1000;  // stream resets accepted in a burst ...
  uint32_t reset_rate = 33;     // ... and per second after it
  uint32_t max_empty_data = 100;  // consecutive DATA frames without payload or END_STREAM
  uint32_t connection_window = 16u << 20;  // the connection's receive window
  std::chrono::milliseconds request_timeout{10000};  // a stream's request head must be in by then
  std::chrono::milliseconds stall_timeout{30000};    // a response the client takes nothing of: reset
  std::chrono::milliseconds idle_timeout{300000};    // no stream open this long: GOAWAY
};

class H2Server;

// One request and its response. Use on the session's executor only.
class H2Exchange {
 public:
  static constexpr std::size_t kWriteBuffer = 64u << 10;

  H2Exchange(std::shared_ptr<H2Server> server, int32_t id);
  // The request: method, :path as target, :authority as the host field,
  // cookie fields joined; version 20.
  Request& request() { return request_; }
  // Non-zero when the request broke a limit: answer this status (431).
  int errorStatus() const { return error_status_; }
  const std::string& errorReason() const { return error_reason_; }

  // The request body's next bytes (appended to `out`; waits for them), and
  // `end` once it is over; the client may send as much again. false when the
  // rest cannot come (the stream was reset or closed, the session ended).
  asio::awaitable<bool> readBody(std::string& out, bool& end);
  // What of the body is here, appended to `out` without waiting; true when
  // that is all of it (the client's END_STREAM came).
  bool takeBody(std::string& out);
  // The handler is done with the body: what is queued and what still comes
  // is dropped and its window given back at once.
  void dropBody();

  // Submits the response head (lower-case names; connection-specific fields
  // are dropped). With `has_body`, write() and end() follow; else the stream
  // ends here. false when the stream is gone.
  bool respond(int status, const std::vector<route::Header>& headers, bool has_body);
  // Queues body bytes; waits while more than kWriteBuffer are unsent. false
  // when the stream is gone (reset by the client, the session ended).
  asio::awaitable<bool> write(std::string_view data);
  // The response ends, with `trailers` (a HEADERS frame after the body) when
  // there are any.
  void end(std::vector<route::Header> trailers = {});
  // RST_STREAM (INTERNAL_ERROR by default): the response cannot be finished.
  void reset(uint32_t error_code = 2);
  bool closed() const { return closed_; }

 private:
  friend class H2Server;
  void onClosed();

  std::shared_ptr<H2Server> server_;
  int32_t id_;
  Request request_;
  std::string authority_;
  std::string cookies_;
  std::size_t header_bytes_ = 0;
  int error_status_ = 0;
  std::string error_reason_;
  bool dispatched_ = false;
  bool remote_ended_ = false;   // the client's END_STREAM came
  std::string body_in_;         // request body received, not yet read (nor given back to the window)
  bool body_dropped_ = false;
  std::chrono::steady_clock::time_point body_at_;   // request body bytes last came
  runtime::Event readable_;
  std::chrono::steady_clock::time_point opened_;
  std::chrono::steady_clock::time_point progress_;  // the response last moved

  bool responded_ = false;
  std::string out_;
  std::size_t out_off_ = 0;
  std::vector<route::Header> trailers_;
  bool ended_ = false;
  bool deferred_ = false;
  bool closed_ = false;
  runtime::Event writable_;
};

class H2Server : public std::enable_shared_from_this<H2Server> {
 public:
  using Handler = std::function<asio::awaitable<void>(std::shared_ptr<H2Exchange>)>;

  // `initial`: bytes already read from the transport (the preface, maybe more).
  static std::shared_ptr<H2Server> create(asio::any_io_executor ex, H2ServerLimits limits, H2Transport transport,
                                          Handler handler, std::string initial);
  ~H2Server();
  H2Server(const H2Server&) = delete;
  H2Server& operator=(const H2Server&) = delete;

  // Runs the session until it ends (GOAWAY either way, the peer closed, a
  // protocol error, idle) and every handler has returned.
  asio::awaitable<void> run();
  // Why it ended ("" while running): logs.
  const std::string& endReason() const { return end_reason_; }

  struct Callbacks;  // nghttp2 callbacks (internal)

 private:
  friend class H2Exchange;
  H2Server(asio::any_io_executor ex, H2ServerLimits limits, H2Transport transport, Handler handler,
           std::string initial);
  bool init();
  asio::awaitable<void> readLoop();
  asio::awaitable<void> writeLoop();
  asio::awaitable<void> tickLoop();
  bool receive(const std::string& bytes);  // false: the session is over
  void kick() { want_write_.notify(); }
  void resume(H2Exchange& x);
  void dispatch(const std::shared_ptr<H2Exchange>& x);
  void finish(std::string reason);

  asio::any_io_executor ex_;
  H2ServerLimits limits_;
  H2Transport transport_;
  Handler handler_;
  std::string initial_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, std::shared_ptr<H2Exchange>> streams_;
  std::size_t handlers_ = 0;
  uint32_t empty_data_ = 0;
  hbone::FloodGuard flood_;  // WINDOW_UPDATE and PRIORITY floods
  runtime::Event want_write_;
  runtime::Event handlers_done_;
  asio::steady_timer tick_;
  bool finished_ = false;   // nothing more to send: our half is closed
  bool reading_ = true;
  bool peer_eof_ = false;
  std::chrono::steady_clock::time_point finished_at_;
  std::chrono::steady_clock::time_point last_active_;
  std::string end_reason_;
};

}  // namespace ambit::waypoint::http
