// HBONE: HTTP/2 CONNECT tunnels over mutual TLS (architecture.md §4), on nghttp2.
//
// A Connection is one TLS connection carrying HTTP/2; each CONNECT is a Stream
// whose DATA frames carry one proxied TCP connection. Everything of a
// connection (its streams, their readers and writers) runs on the executor of
// its socket: a worker's io_context, so no locks.
//
// Backpressure both ways:
//  - peer -> us: automatic WINDOW_UPDATEs are off; a stream's window reopens
//    only as its reader consumes, so the peer can never have more than the
//    stream window (and the connection window across streams) buffered here;
//  - us -> peer: Stream::write() queues at most `write_buffer` bytes and then
//    waits for nghttp2 to send them, which it does only within the peer's
//    windows.
//
// Abuse limits (hardening.md 1-2): advertised stream/connection windows,
// frame size, concurrent streams and header list size; a count and size cap
// on each header block; nghttp2's own caps on stream resets (rapid reset),
// CONTINUATION frames and queued PING/SETTINGS acks, and Envoy's caps on
// WINDOW_UPDATE and PRIORITY frames (flood.h), each of which ends the
// connection with GOAWAY; keepalive PINGs and a silence deadline.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/base/result.h"
#include "common/hbone/flood.h"
#include "common/runtime/event.h"

struct nghttp2_session;

namespace ambit::runtime {
class Drain;
}

namespace ambit::hbone {

namespace asio = boost::asio;
using TlsStream = asio::ssl::stream<asio::ip::tcp::socket>;

struct H2Limits {
  uint32_t stream_window = 4u << 20;       // advertised per-stream receive window
  uint32_t connection_window = 16u << 20;  // advertised connection receive window (never equal to the stream's)
  uint32_t max_frame_size = 1u << 20;      // largest frame we accept
  uint32_t max_concurrent_streams = 200;   // streams a peer may open to us (server side)
  uint32_t max_header_list_bytes = 64u << 10;  // per header block, name+value+32 each (16 KiB on clients)
  uint32_t max_header_count = 100;         // per header block
  uint32_t reset_burst = 1000;             // stream resets accepted in a burst ...
  uint32_t reset_rate = 33;                // ... and per second after it (rapid reset cap)
  std::chrono::milliseconds ping_interval{10000};
  std::chrono::milliseconds ping_timeout{20000};  // nothing heard for this long: the connection is dead
  std::size_t write_buffer = 256u << 10;   // bytes a stream's writer may queue before it waits

  static H2Limits client() {
    H2Limits l;
    l.max_header_list_bytes = 16u << 10;
    return l;
  }
};

struct Header {
  std::string name;
  std::string value;
};

class Connection;

// One CONNECT tunnel. Use only on the connection's executor.
class Stream {
 public:
  // Request (server side): the CONNECT's :authority and its other headers.
  const std::string& method() const { return method_; }
  const std::string& authority() const { return authority_; }
  const std::vector<Header>& headers() const { return headers_; }
  std::string header(std::string_view name) const;  // "" when absent
  int32_t id() const { return id_; }

  // Client: waits for the response; its :status, or 0 when the stream or
  // connection ended first (reset, GOAWAY, TLS failure).
  asio::awaitable<int> response();
  // As response(), but resets the stream and returns 0 after `timeout`.
  asio::awaitable<int> response(std::chrono::milliseconds timeout);
  // Server: answers the request. A status other than 200 ends the stream.
  void respond(int status);

  // Tunnel bytes. read(): 0 at the peer's END_STREAM; throws
  // boost::system::system_error when the stream was reset or the connection
  // died. write(): returns once the bytes are queued within `write_buffer`;
  // throws likewise.
  asio::awaitable<std::size_t> read(asio::mutable_buffer buf);
  asio::awaitable<void> write(asio::const_buffer buf);
  // END_STREAM after what is queued (half close).
  void closeWrite();
  // RST_STREAM (CANCEL by default); wakes every waiter.
  void reset(uint32_t error_code = 8 /* CANCEL */);

  bool closed() const { return closed_; }
  // Client: the server refused the stream unprocessed (REFUSED_STREAM, e.g. a
  // GOAWAY that names a lower stream id): safe to retry on another connection.
  bool refused() const { return refused_; }
  // When bytes last moved on it: came in, were read, were queued to go out
  // or left (the clock of a stream idle timeout).
  std::chrono::steady_clock::time_point lastActivity() const { return last_activity_; }
  // Why the stream ended: "" while open, else e.g. "reset by peer (CANCEL)".
  const std::string& closeReason() const { return close_reason_; }
  Connection& connection() { return *conn_; }
  // Called once when the stream ends before both END_STREAMs (a reset either
  // way, the connection lost), after its waiters are woken: a relay resets
  // its other side with it. Clear it (empty function) before `fn`'s captures die.
  void onAbort(std::function<void()> fn) { on_abort_ = std::move(fn); }

  Stream(std::shared_ptr<Connection> conn, int32_t id);

 private:
  friend class Connection;
  void wake();
  void onClosed(std::string reason);

  std::shared_ptr<Connection> conn_;
  int32_t id_;
  std::string method_;
  std::string authority_;
  std::vector<Header> headers_;
  std::size_t header_bytes_ = 0;
  bool header_overflow_ = false;
  int status_ = 0;
  bool got_response_ = false;
  bool refused_ = false;

  std::chrono::steady_clock::time_point last_activity_;
  std::string in_;          // received, not yet read
  std::size_t in_off_ = 0;
  bool remote_eof_ = false;
  std::string out_;         // written, not yet sent
  std::size_t out_off_ = 0;
  bool local_eof_ = false;  // closeWrite() called
  bool deferred_ = false;   // nghttp2 paused our data source
  bool data_attached_ = false;
  bool closed_ = false;
  bool window_returned_ = false;  // unread bytes were credited back at close: read() must not consume again
  std::string close_reason_;
  runtime::Event readable_;
  runtime::Event writable_;
  std::function<void()> on_abort_;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class Role { kClient, kServer };
  // Server side: runs for each new CONNECT request whose headers are complete
  // (co-spawned, detached). It must respond(); see Stream.
  using RequestHandler = std::function<asio::awaitable<void>(std::shared_ptr<Stream>)>;

  // `tls` must have completed its handshake (with ALPN h2).
  static std::shared_ptr<Connection> create(TlsStream tls, Role role, H2Limits limits, RequestHandler handler = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs the connection until it closes: sends our SETTINGS, then reads,
  // writes and pings. Co-spawn it; it returns when the socket is closed.
  asio::awaitable<void> run();

  // Client: opens a CONNECT stream to `authority` with extra headers
  // (forwarded, traceparent, ...). No DATA is sent before the caller writes,
  // which a tunnel does only after a 200.
  Result<std::shared_ptr<Stream>> connect(const std::string& authority, const std::vector<Header>& extra);

  // New streams are possible (open, no GOAWAY either way, under the limit).
  bool acceptsStreams(std::size_t max_streams) const;
  std::size_t activeStreams() const { return streams_.size(); }
  bool closed() const { return closed_; }
  // Graceful: GOAWAY, no new streams; closes when the last stream ends.
  void goAway();
  // Immediate: closes the socket; every stream fails.
  void close(std::string reason);
  // Why it closed ("" while open).
  const std::string& closeReason() const { return close_reason_; }

  TlsStream& tls() { return tls_; }
  asio::any_io_executor executor() { return tls_.get_executor(); }
  std::chrono::steady_clock::time_point lastActivity() const { return last_activity_; }
  // When the first of the two certificates of this connection (ours, the
  // peer's) expires: no new streams after that (they would ride on an expired
  // identity); the pool dials anew, and that handshake fails closed.
  std::chrono::system_clock::time_point certificatesExpire() const { return certs_expire_; }
  bool expired() const { return std::chrono::system_clock::now() >= certs_expire_; }

  // nghttp2 callbacks (internal).
  struct Callbacks;

 private:
  Connection(TlsStream tls, Role role, H2Limits limits, RequestHandler handler);
  Status init();
  asio::awaitable<void> readLoop();
  asio::awaitable<void> writeLoop();
  asio::awaitable<void> keepalive();
  void kick() { want_write_.notify(); }
  void consume(int32_t stream_id, std::size_t n);
  void resumeData(Stream& s);
  void dispatch(const std::shared_ptr<Stream>& s);
  friend class Stream;

  TlsStream tls_;
  Role role_;
  H2Limits limits_;
  RequestHandler handler_;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, std::shared_ptr<Stream>> streams_;
  runtime::Event want_write_;
  asio::steady_timer ping_timer_;
  std::vector<uint8_t> rbuf_;
  std::string wbuf_;
  bool closed_ = false;
  bool goaway_ = false;  // sent or received
  std::string close_reason_;
  FloodGuard flood_;  // WINDOW_UPDATE and PRIORITY floods
  std::chrono::steady_clock::time_point last_activity_;
  std::chrono::steady_clock::time_point last_heard_;
  std::chrono::system_clock::time_point certs_expire_ = std::chrono::system_clock::time_point::max();
};

// Server side: runs `conn` as one of `drain`'s connections: GOAWAY when the
// drain starts, closed at its deadline. (A listener's own drain handle cuts the
// socket, which the TLS stream now owns: the HBONE connection is tracked instead.)
asio::awaitable<void> runDraining(std::shared_ptr<Connection> conn, runtime::Drain& drain);

}  // namespace ambit::hbone
