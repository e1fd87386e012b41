// HTTP/2 over TLS for HBONE, on nghttp2's memory I/O (mem_recv / mem_send):
// one read loop, one write loop and one keepalive loop per connection.
#include "common/hbone/connection.h"

#include "common/runtime/drain.h"

#include <algorithm>
#include <cstring>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <nghttp2/nghttp2.h>

#include "common/hbone/authority.h"
#include "common/hbone/data_source.h"
#include "common/log/log.h"
#include "common/tls/cert_builder.h"

namespace ambit::hbone {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kReadBuffer = 16u << 10;
constexpr std::size_t kWriteBatch = 64u << 10;

std::shared_ptr<spdlog::logger> hboneLog() {
  static auto l = log::scope("hbone");
  return l;
}

[[noreturn]] void throwClosed(const std::string& why) {
  throw boost::system::system_error(asio::error::connection_reset, why);
}

}  // namespace

// ---- Stream ---------------------------------------------------------------

Stream::Stream(std::shared_ptr<Connection> conn, int32_t id)
    : conn_(std::move(conn)), id_(id), readable_(conn_->executor()), writable_(conn_->executor()) {
  last_activity_ = std::chrono::steady_clock::now();
}

std::string Stream::header(std::string_view name) const {
  for (const auto& h : headers_) {
    if (h.name == name) return h.value;
  }
  return "";
}

void Stream::wake() {
  readable_.notify();
  writable_.notify();
}

void Stream::onClosed(std::string reason) {
  if (closed_) return;
  closed_ = true;
  close_reason_ = std::move(reason);
  wake();
  if (on_abort_ && (!close_reason_.empty() || !remote_eof_)) {
    auto fn = std::move(on_abort_);
    on_abort_ = nullptr;
    fn();
  }
}

asio::awaitable<int> Stream::response() {
  while (!got_response_ && !closed_) co_await readable_.wait();
  co_return got_response_ ? status_ : 0;
}

asio::awaitable<int> Stream::response(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!got_response_ && !closed_) {
    auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero() || !co_await readable_.waitFor(left)) {
      if (!got_response_ && !closed_) {
        reset();
        close_reason_ = "no response within " + std::to_string(timeout.count()) + " ms";
      }
      break;
    }
  }
  co_return got_response_ ? status_ : 0;
}

void Stream::respond(int status) {
  if (closed_ || got_response_) return;
  got_response_ = true;
  status_ = status;
  if (status == 200) {
    conn_->resumeData(*this);  // submits the 200 with the tunnel's data source
    return;
  }
  local_eof_ = true;
  std::string code = std::to_string(status);
  nghttp2_nv hdrs[] = {nv(":status", code)};
  nghttp2_submit_response(conn_->session_, id_, hdrs, 1, nullptr);
  conn_->kick();
}

asio::awaitable<std::size_t> Stream::read(asio::mutable_buffer buf) {
  for (;;) {
    if (in_off_ < in_.size()) {
      std::size_t n = std::min(buf.size(), in_.size() - in_off_);
      std::memcpy(buf.data(), in_.data() + in_off_, n);
      in_off_ += n;
      if (in_off_ == in_.size()) {
        in_.clear();
        in_off_ = 0;
      }
      // Reopen the window only for what the reader took: that is the backpressure.
      // Until nghttp2 reports the stream closed (even after our own reset), the
      // bytes still count against the connection window and must be consumed.
      if (!window_returned_) conn_->consume(id_, n);
      last_activity_ = std::chrono::steady_clock::now();  // the reader's progress moves it too
      co_return n;
    }
    if (remote_eof_) co_return 0;
    if (closed_) throwClosed(close_reason_.empty() ? "stream closed" : close_reason_);
    co_await readable_.wait();
  }
}

asio::awaitable<void> Stream::write(asio::const_buffer buf) {
  if (conn_->role_ == Connection::Role::kClient && status_ != 200) {
    // hardening.md 4: never application bytes before the 200.
    throwClosed("no 200 response on this tunnel");
  }
  for (;;) {
    if (closed_) throwClosed(close_reason_.empty() ? "stream closed" : close_reason_);
    if (local_eof_) throw boost::system::system_error(asio::error::broken_pipe, "write after closeWrite");
    if (out_.size() - out_off_ < conn_->limits_.write_buffer) break;
    co_await writable_.wait();
  }
  enqueue(out_, out_off_, std::string_view(static_cast<const char*>(buf.data()), buf.size()));
  last_activity_ = std::chrono::steady_clock::now();
  conn_->resumeData(*this);
}

void Stream::closeWrite() {
  if (closed_ || local_eof_) return;
  local_eof_ = true;
  conn_->resumeData(*this);
}

void Stream::reset(uint32_t error_code) {
  if (closed_) return;
  local_eof_ = true;
  nghttp2_submit_rst_stream(conn_->session_, NGHTTP2_FLAG_NONE, id_, error_code);
  conn_->kick();
  onClosed(std::string("reset by us (") + nghttp2_http2_strerror(error_code) + ")");
}

// ---- nghttp2 callbacks ----------------------------------------------------

struct Connection::Callbacks {
  static Connection& self(void* user_data) { return *static_cast<Connection*>(user_data); }
  static Stream* streamOf(nghttp2_session* session, int32_t id) {
    return static_cast<Stream*>(nghttp2_session_get_stream_user_data(session, id));
  }

  static int onBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    auto& c = self(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    if (c.role_ != Role::kServer) return 0;
    auto s = std::make_shared<Stream>(c.shared_from_this(), frame->hd.stream_id);
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, s.get());
    c.streams_[frame->hd.stream_id] = std::move(s);
    return 0;
  }

  static int onHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t /*flags*/, void* user_data) {
    auto& c = self(user_data);
    Stream* s = streamOf(session, frame->hd.stream_id);
    if (s == nullptr || frame->hd.type != NGHTTP2_HEADERS) return 0;
    if (frame->headers.cat == NGHTTP2_HCAT_HEADERS) return 0;  // trailers: ignored
    s->header_bytes_ += namelen + valuelen + 32;
    std::size_t count = s->headers_.size() + 1;
    if (s->header_bytes_ > c.limits_.max_header_list_bytes || count > c.limits_.max_header_count) {
      s->header_overflow_ = true;
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets this stream
    }
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":method") {
      s->method_ = v;
    } else if (n == ":authority") {
      s->authority_ = v;
    } else if (n == ":status") {
      int st = 0;
      for (char ch : v) st = st * 10 + (ch - '0');
      s->status_ = st;
    }
    s->headers_.push_back(Header{std::string(n), std::string(v)});
    return 0;
  }

  static int onFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    self(user_data).flood_.sent(*frame);
    return 0;
  }

  static int onFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    auto& c = self(user_data);
    if (!c.flood_.received(*frame)) {
      // Ends the session: mem_recv fails, and the read loop sends GOAWAY and closes.
      log::info(*hboneLog(), "h2_flood", "reason", c.flood_.why());
      if (c.close_reason_.empty()) c.close_reason_ = c.flood_.why();
      nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM);
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      c.goaway_ = true;
      return 0;
    }
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    Stream* s = streamOf(session, frame->hd.stream_id);
    if (s == nullptr) return 0;
    if (frame->hd.type == NGHTTP2_HEADERS) {
      if (c.role_ == Role::kServer && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
        if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) s->remote_eof_ = true;
        auto it = c.streams_.find(frame->hd.stream_id);
        if (it != c.streams_.end()) c.dispatch(it->second);
        return 0;
      }
      if (c.role_ == Role::kClient && frame->headers.cat == NGHTTP2_HCAT_RESPONSE) {
        if (s->status_ >= 200) {
          s->got_response_ = true;
          // Anything but 200 ends the tunnel: free the stream now rather than
          // wait for the server's END_STREAM.
          if (s->status_ != 200) s->reset();
        } else {
          s->status_ = 0;  // 1xx: wait for the final response
          s->headers_.clear();
          s->header_bytes_ = 0;
        }
      }
    }
    if (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) s->remote_eof_ = true;
    s->wake();
    return 0;
  }

  static int onDataChunk(nghttp2_session* session, uint8_t /*flags*/, int32_t stream_id, const uint8_t* data,
                         size_t len, void* /*user_data*/) {
    Stream* s = streamOf(session, stream_id);
    if (s == nullptr || s->closed_) {
      nghttp2_session_consume_connection(session, len);
      return 0;
    }
    if (s->in_off_ > 0 && s->in_off_ >= s->in_.size() / 2) {
      s->in_.erase(0, s->in_off_);
      s->in_off_ = 0;
    }
    s->in_.append(reinterpret_cast<const char*>(data), len);
    s->last_activity_ = s->conn_->last_activity_;  // this read's time
    s->readable_.notify();
    return 0;
  }

  static int onStreamClose(nghttp2_session* session, int32_t stream_id, uint32_t error_code, void* user_data) {
    auto& c = self(user_data);
    auto it = c.streams_.find(stream_id);
    if (it == c.streams_.end()) return 0;
    auto s = std::move(it->second);
    c.streams_.erase(it);
    // Bytes still unread no longer count against a stream; give the connection window back now.
    std::size_t unread = s->in_.size() - s->in_off_;
    if (unread > 0) nghttp2_session_consume_connection(session, unread);
    s->window_returned_ = true;
    if (error_code == NGHTTP2_REFUSED_STREAM && !s->got_response_) s->refused_ = true;
    if (error_code != NGHTTP2_NO_ERROR) {
      s->onClosed(std::string("reset (") + nghttp2_http2_strerror(error_code) + ")");
    } else {
      s->onClosed("");
    }
    return 0;
  }

  static ssize_t dataRead(nghttp2_session* /*session*/, int32_t /*stream_id*/, uint8_t* buf, size_t length,
                          uint32_t* data_flags, nghttp2_data_source* source, void* /*user_data*/) {
    auto* s = static_cast<Stream*>(source->ptr);
    bool took = false;
    ssize_t n = takeQueued(s->out_, s->out_off_, s->local_eof_, s->deferred_, buf, length, data_flags, took);
    if (took) {
      s->last_activity_ = std::chrono::steady_clock::now();  // queued bytes leaving are progress
      s->writable_.notify();
    }
    return n;
  }
};

// ---- Connection -----------------------------------------------------------

Connection::Connection(TlsStream tls, Role role, H2Limits limits, RequestHandler handler)
    : tls_(std::move(tls)),
      role_(role),
      limits_(limits),
      handler_(std::move(handler)),
      want_write_(tls_.get_executor()),
      ping_timer_(tls_.get_executor()),
      last_activity_(Clock::now()),
      last_heard_(Clock::now()) {}

Connection::~Connection() {
  if (session_ != nullptr) nghttp2_session_del(session_);
}

std::shared_ptr<Connection> Connection::create(TlsStream tls, Role role, H2Limits limits, RequestHandler handler) {
  std::shared_ptr<Connection> c(new Connection(std::move(tls), role, limits, std::move(handler)));
  if (auto st = c->init(); !st) {
    c->close(st.error().message);
  }
  return c;
}

Status Connection::init() {
  // Certificates of this connection: ours and the peer's leaf.
  SSL* ssl = tls_.native_handle();
  for (X509* cert : {SSL_get_certificate(ssl), static_cast<X509*>(SSL_get0_peer_certificate(ssl))}) {
    if (cert != nullptr) certs_expire_ = std::min(certs_expire_, tls::certificateNotAfter(cert));
  }
  int rv = newSession<Callbacks>(&session_, role_ == Role::kServer, this, [this](nghttp2_option* opt) {
    nghttp2_option_set_no_auto_window_update(opt, 1);
    nghttp2_option_set_stream_reset_rate_limit(opt, limits_.reset_burst, limits_.reset_rate);
    nghttp2_option_set_max_send_header_block_length(opt, 64u << 10);
  });
  if (rv != 0) return makeError(ErrorCode::kResourceExhausted, "nghttp2 session: {}", nghttp2_strerror(rv));

  std::vector<nghttp2_settings_entry> iv = {
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits_.stream_window},
      {NGHTTP2_SETTINGS_MAX_FRAME_SIZE, limits_.max_frame_size},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, limits_.max_header_list_bytes},
  };
  if (role_ == Role::kServer) {
    iv.push_back({NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits_.max_concurrent_streams});
  } else {
    iv.push_back({NGHTTP2_SETTINGS_ENABLE_PUSH, 0});
  }
  rv = nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, iv.data(), iv.size());
  if (rv == 0) rv = nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, limits_.connection_window);
  if (rv != 0) return makeError(ErrorCode::kInternal, "nghttp2 settings: {}", nghttp2_strerror(rv));
  return {};
}

asio::awaitable<void> Connection::run() {
  using namespace asio::experimental::awaitable_operators;
  auto self = shared_from_this();
  if (closed_) co_return;
  rbuf_.resize(kReadBuffer);
  co_await (readLoop() && writeLoop() && keepalive());
}

asio::awaitable<void> Connection::readLoop() {
  while (!closed_) {
    auto [ec, n] = co_await tls_.async_read_some(asio::buffer(rbuf_), asio::as_tuple(asio::use_awaitable));
    if (closed_) break;
    if (ec) {
      close(ec == asio::error::eof || ec == asio::ssl::error::stream_truncated ? "peer closed the connection"
                                                                             : "read: " + ec.message());
      break;
    }
    last_heard_ = last_activity_ = Clock::now();
    ssize_t rv = nghttp2_session_mem_recv(session_, rbuf_.data(), n);
    if (rv < 0) {
      // A flood or protocol error nghttp2 refuses to go on with; it may have
      // queued a GOAWAY: flush it, then close (the keepalive loop bounds that).
      log::debug(*hboneLog(), "h2_protocol_error", "error", nghttp2_strerror(static_cast<int>(rv)));
      nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
      goaway_ = true;
      if (close_reason_.empty()) close_reason_ = std::string("protocol error: ") + nghttp2_strerror(static_cast<int>(rv));
      kick();
      ping_timer_.cancel();
      break;
    }
    kick();
    if (nghttp2_session_want_read(session_) == 0) {
      goaway_ = true;  // nghttp2 ended the session (GOAWAY either way): no new streams
      break;
    }
  }
}

asio::awaitable<void> Connection::writeLoop() {
  while (!closed_) {
    wbuf_.clear();
    if (int rv = takeOutput(session_, wbuf_, kWriteBatch); rv != 0) {
      close(std::string("nghttp2: ") + nghttp2_strerror(rv));
      co_return;
    }
    if (wbuf_.empty()) {
      if (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0) {
        close(close_reason_.empty() ? "finished" : close_reason_);
        break;
      }
      co_await want_write_.wait();
      continue;
    }
    auto [ec, n] = co_await asio::async_write(tls_, asio::buffer(wbuf_), asio::as_tuple(asio::use_awaitable));
    if (ec) {
      close("write: " + ec.message());
      break;
    }
    last_activity_ = Clock::now();
  }
  // Give the write buffer's memory back: an idle pooled connection keeps none.
  std::string().swap(wbuf_);
}

asio::awaitable<void> Connection::keepalive() {
  while (!closed_) {
    bool terminating = nghttp2_session_want_read(session_) == 0;
    ping_timer_.expires_after(terminating ? std::chrono::milliseconds(1000) : limits_.ping_interval);
    co_await ping_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (closed_) break;
    if (nghttp2_session_want_read(session_) == 0) {
      if (terminating) {
        // The GOAWAY had a second to go out; the peer may not be reading.
        close(close_reason_.empty() ? "goaway" : close_reason_);
        break;
      }
      continue;
    }
    auto silent = Clock::now() - last_heard_;
    if (silent >= limits_.ping_timeout) {
      close("no frame from the peer for " +
            std::to_string(std::chrono::duration_cast<std::chrono::seconds>(silent).count()) + " s");
      break;
    }
    if (silent >= limits_.ping_interval) {
      nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr);
      kick();
    }
  }
}

void Connection::consume(int32_t stream_id, std::size_t n) {
  if (closed_) return;
  if (nghttp2_session_consume(session_, stream_id, n) != 0) nghttp2_session_consume_connection(session_, n);
  kick();
}

void Connection::resumeData(Stream& s) {
  if (closed_ || s.closed_) return;
  if (!s.data_attached_) {
    if (role_ != Role::kServer || !s.got_response_) return;
    // The server's 200 carries the data source: the tunnel's bytes follow it.
    s.data_attached_ = true;
    nghttp2_data_provider prd;
    prd.source.ptr = &s;
    prd.read_callback = &Callbacks::dataRead;
    nghttp2_nv hdrs[] = {nv(":status", "200")};
    int rv = nghttp2_submit_response(session_, s.id_, hdrs, 1, &prd);
    if (rv != 0) {
      s.onClosed(std::string("submit response: ") + nghttp2_strerror(rv));
      return;
    }
  } else if (s.deferred_) {
    s.deferred_ = false;
    nghttp2_session_resume_data(session_, s.id_);
  }
  kick();
}

void Connection::dispatch(const std::shared_ptr<Stream>& s) {
  if (s->method_ != "CONNECT") {
    s->respond(400);
    return;
  }
  if (!parseAuthority(s->authority_)) {
    s->respond(400);
    return;
  }
  if (expired()) {
    goAway();  // the client redials; a new handshake needs valid certificates
  }
  if (!handler_ || goaway_) {
    s->respond(503);
    return;
  }
  asio::co_spawn(
      executor(),
      [h = handler_, s]() -> asio::awaitable<void> {
        try {
          co_await h(s);
        } catch (const std::exception& e) {
          log::warn(*hboneLog(), "hbone_handler_failed", "authority", s->authority(), "what", e.what());
        }
        if (!s->got_response_) {
          s->respond(503);
        } else if (s->status_ == 200 && !s->closed_ && !(s->local_eof_ && s->remote_eof_)) {
          // The tunnel ended on an error: reset rather than leave it half open.
          // (After an error status the client resets; a reset here would drop
          // the queued response.)
          s->reset();
        }
      },
      asio::detached);
}

Result<std::shared_ptr<Stream>> Connection::connect(const std::string& authority, const std::vector<Header>& extra) {
  if (role_ != Role::kClient) return makeError(ErrorCode::kInternal, "connect() on a server connection");
  if (closed_ || goaway_) return makeError(ErrorCode::kUnavailable, "HBONE connection is closing");
  auto s = std::make_shared<Stream>(shared_from_this(), 0);
  std::vector<nghttp2_nv> hdrs;
  hdrs.reserve(2 + extra.size());
  hdrs.push_back(nv(":method", "CONNECT"));
  hdrs.push_back(nv(":authority", authority));
  for (const auto& h : extra) hdrs.push_back(nv(h.name, h.value));
  nghttp2_data_provider prd;
  prd.source.ptr = s.get();
  prd.read_callback = &Callbacks::dataRead;
  int32_t id = nghttp2_submit_request(session_, nullptr, hdrs.data(), hdrs.size(), &prd, s.get());
  if (id < 0) return makeError(ErrorCode::kUnavailable, "HBONE request: {}", nghttp2_strerror(id));
  s->id_ = id;
  s->data_attached_ = true;
  streams_[id] = s;
  kick();
  return s;
}

bool Connection::acceptsStreams(std::size_t max_streams) const {
  if (closed_ || goaway_ || session_ == nullptr || expired()) return false;
  if (streams_.size() >= max_streams) return false;
  return nghttp2_session_get_remote_settings(session_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS) > streams_.size();
}

void Connection::goAway() {
  if (closed_ || goaway_) return;
  goaway_ = true;
  int32_t last = nghttp2_session_get_last_proc_stream_id(session_);
  nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE, last, NGHTTP2_NO_ERROR, nullptr, 0);
  kick();
}

void Connection::close(std::string reason) {
  if (closed_) return;
  closed_ = true;
  if (close_reason_.empty()) close_reason_ = std::move(reason);
  boost::system::error_code ignored;
  tls_.lowest_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  tls_.lowest_layer().close(ignored);
  ping_timer_.cancel();
  want_write_.notify();
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, s] : streams) {
    s->window_returned_ = true;  // no session to credit any more
    s->onClosed("connection closed: " + close_reason_);
  }
}

asio::awaitable<void> runDraining(std::shared_ptr<Connection> conn, runtime::Drain& drain) {
  std::weak_ptr<Connection> weak = conn;
  auto handle = drain.track(conn->executor(), [weak] {
    if (auto c = weak.lock()) c->close("drain deadline");
  });
  handle.onDrain([weak] {
    if (auto c = weak.lock()) c->goAway();
  });
  co_await conn->run();
}

}  // namespace ambit::hbone
