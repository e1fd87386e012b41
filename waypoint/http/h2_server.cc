#include "waypoint/http/h2_server.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nghttp2/nghttp2.h>

#include "common/base/ascii.h"
#include "common/hbone/data_source.h"

namespace ambit::waypoint::http {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kWriteBatch = 64u << 10;
constexpr auto kLinger = std::chrono::seconds(2);  // after our GOAWAY, for the peer to close

using hbone::nv;

}  // namespace

// ---- H2Exchange -------------------------------------------------------------

H2Exchange::H2Exchange(std::shared_ptr<H2Server> server, int32_t id)
    : server_(std::move(server)),
      id_(id),
      body_at_(Clock::now()),
      readable_(server_->ex_),
      opened_(Clock::now()),
      progress_(opened_),
      writable_(server_->ex_) {
  request_.version = 20;
}

bool H2Exchange::takeBody(std::string& out) {
  std::size_t n = body_in_.size();
  if (out.empty()) {
    out.swap(body_in_);
  } else {
    out += body_in_;
  }
  body_in_.clear();
  // Also after a reset of ours: the stream may not be closed yet, and its
  // bytes count in the connection's window until they are given back.
  if (n > 0 && !server_->finished_) {
    nghttp2_session_consume(server_->session_, id_, n);  // the window opens again
    server_->kick();
  }
  return remote_ended_;
}

void H2Exchange::dropBody() {
  std::string dropped;
  takeBody(dropped);
  body_dropped_ = true;
}

asio::awaitable<bool> H2Exchange::readBody(std::string& out, bool& end) {
  // Waits for the client's next bytes; a stream where neither they nor the
  // response moved for the idle timeout is reset.
  for (int i = 0; body_in_.empty() && !remote_ended_ && !closed_; ++i) {
    auto idle_until = std::max(body_at_, progress_) + server_->limits_.idle_timeout;
    auto now = Clock::now();
    if (now >= idle_until) {
      reset(NGHTTP2_CANCEL);
      break;
    }
    co_await readable_.waitFor(idle_until - now);
  }
  std::size_t before = out.size();
  end = takeBody(out);
  co_return out.size() > before || end;
}

bool H2Exchange::respond(int status, const std::vector<route::Header>& headers, bool has_body) {
  if (closed_ || responded_ || server_->finished_) return false;
  responded_ = true;
  std::string code = std::to_string(status);
  std::vector<std::string> lowered;  // storage for names that were not lower-case
  lowered.reserve(headers.size());
  std::vector<nghttp2_nv> nva;
  nva.reserve(headers.size() + 1);
  nva.push_back(nv(":status", code));
  for (const auto& h : headers) {
    if (h.name.empty() || connectionSpecific(h.name)) continue;
    if (std::any_of(h.name.begin(), h.name.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
      lowered.push_back(asciiLowered(h.name));
      if (connectionSpecific(lowered.back())) continue;
      nva.push_back(nv(lowered.back(), h.value));
    } else {
      nva.push_back(nv(h.name, h.value));
    }
  }
  nghttp2_data_provider prd;
  prd.source.ptr = this;
  prd.read_callback = [](nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                         uint32_t* data_flags, nghttp2_data_source* source, void*) -> ssize_t {
    auto* x = static_cast<H2Exchange*>(source->ptr);
    bool took = false;
    ssize_t n = hbone::takeQueued(x->out_, x->out_off_, x->ended_, x->deferred_, buf, length, data_flags, took);
    if (took) {
      x->progress_ = Clock::now();
      x->writable_.notify();
    }
    if ((*data_flags & NGHTTP2_DATA_FLAG_EOF) != 0 && !x->trailers_.empty()) {
      // The stream ends with the trailers' HEADERS instead (gRPC's status is there).
      std::vector<nghttp2_nv> nva;
      nva.reserve(x->trailers_.size());
      for (const auto& t : x->trailers_) nva.push_back(nv(t.name, t.value));
      if (nghttp2_submit_trailer(session, stream_id, nva.data(), nva.size()) == 0) {
        *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      }
    }
    return n;
  };
  if (!has_body) ended_ = true;
  progress_ = Clock::now();
  int rv = nghttp2_submit_response(server_->session_, id_, nva.data(), nva.size(), has_body ? &prd : nullptr);
  if (rv != 0) {
    reset();
    return false;
  }
  server_->kick();
  return true;
}

asio::awaitable<bool> H2Exchange::write(std::string_view data) {
  if (closed_ || !responded_ || ended_ || server_->finished_) co_return false;
  hbone::enqueue(out_, out_off_, data);
  server_->resume(*this);
  for (int i = 0; !closed_ && out_.size() - out_off_ > kWriteBuffer; ++i) co_await writable_.wait();
  co_return !closed_;
}

void H2Exchange::end(std::vector<route::Header> trailers) {
  if (closed_ || ended_ || !responded_) return;
  ended_ = true;
  // Lower-case names a peer may send; pseudo-fields and connection-specific ones never.
  for (auto& t : trailers) {
    t.name = asciiLowered(t.name);
    if (t.name.empty() || t.name.front() == ':' || connectionSpecific(t.name)) continue;
    trailers_.push_back(std::move(t));
  }
  server_->resume(*this);
}

void H2Exchange::reset(uint32_t error_code) {
  if (closed_) return;
  if (!server_->finished_) {
    nghttp2_submit_rst_stream(server_->session_, NGHTTP2_FLAG_NONE, id_, error_code);
    server_->kick();
  }
  onClosed();
}

void H2Exchange::onClosed() {
  closed_ = true;
  writable_.notify();
  readable_.notify();
}

// ---- nghttp2 callbacks --------------------------------------------------------

struct H2Server::Callbacks {
  static H2Server& self(void* user_data) { return *static_cast<H2Server*>(user_data); }
  static H2Exchange* exchangeOf(nghttp2_session* session, int32_t id) {
    return static_cast<H2Exchange*>(nghttp2_session_get_stream_user_data(session, id));
  }

  static int onBeginHeaders(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    auto& s = self(user_data);
    if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
    // Handlers of streams the client already reset still run (until their
    // upstream answers): they count too, so resets cannot pile up work.
    if (s.handlers_ + s.streams_.size() >= 2u * s.limits_.max_concurrent_streams) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_REFUSED_STREAM);
      return 0;
    }
    auto x = std::make_shared<H2Exchange>(s.shared_from_this(), frame->hd.stream_id);
    nghttp2_session_set_stream_user_data(session, frame->hd.stream_id, x.get());
    s.streams_[frame->hd.stream_id] = std::move(x);
    return 0;
  }

  static int onHeader(nghttp2_session* session, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t /*flags*/, void* user_data) {
    auto& s = self(user_data);
    H2Exchange* x = exchangeOf(session, frame->hd.stream_id);
    if (x == nullptr || frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
      return 0;  // trailers are not taken as fields (as with HTTP/1.1)
    }
    if (x->error_status_ != 0) return 0;
    x->header_bytes_ += namelen + valuelen;
    if (x->header_bytes_ > s.limits_.max_header_bytes || x->request_.headers.size() + 1 > s.limits_.max_headers) {
      x->error_status_ = 431;
      x->error_reason_ = "request header fields too large";
      return 0;
    }
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":method") {
      x->request_.method = v;
    } else if (n == ":path") {
      x->request_.target = v;
    } else if (n == ":authority") {
      x->authority_ = v;
    } else if (!n.empty() && n.front() == ':') {
      // :scheme (and :protocol): not forwarded
    } else if (n == "cookie") {
      // RFC 9113 8.2.3: split cookie fields are joined for HTTP/1.1.
      if (!x->cookies_.empty()) x->cookies_ += "; ";
      x->cookies_.append(v);
    } else {
      x->request_.headers.push_back({std::string(n), std::string(v)});
    }
    return 0;
  }

  static int onFrameRecv(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    auto& s = self(user_data);
    if (!s.flood_.received(*frame)) {
      s.end_reason_ = s.flood_.why();
      nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM);
      return 0;
    }
    if (frame->hd.type == NGHTTP2_DATA) {
      // Padding is no payload: a frame of padding alone counts as empty.
      if (frame->hd.length == frame->data.padlen && !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
        if (++s.empty_data_ > s.limits_.max_empty_data) {
          s.end_reason_ = "empty DATA flood";
          nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM);
          return 0;
        }
      } else {
        s.empty_data_ = 0;
      }
    }
    if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
    H2Exchange* x = exchangeOf(session, frame->hd.stream_id);
    if (x == nullptr) return 0;
    if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
      x->remote_ended_ = true;
      x->readable_.notify();
    }
    // The handler starts with the head; the body follows through readBody().
    if (!x->dispatched_ && frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
      auto it = s.streams_.find(frame->hd.stream_id);
      if (it != s.streams_.end()) s.dispatch(it->second);
    }
    return 0;
  }

  static int onDataChunk(nghttp2_session* session, uint8_t /*flags*/, int32_t stream_id, const uint8_t* data,
                         size_t len, void* /*user_data*/) {
    H2Exchange* x = exchangeOf(session, stream_id);
    if (x == nullptr || x->closed_ || x->body_dropped_) {
      nghttp2_session_consume(session, stream_id, len);  // nobody reads it: the window opens at once
      return 0;
    }
    // Queued until the handler reads it: the stream's window bounds it.
    x->body_at_ = Clock::now();
    x->body_in_.append(reinterpret_cast<const char*>(data), len);
    x->readable_.notify();
    return 0;
  }

  // A response that ended while the client still sends: reset with NO_ERROR
  // now that the END_STREAM is out (a reset submitted with the response would
  // overtake its DATA).
  static int onFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* user_data) {
    self(user_data).flood_.sent(*frame);
    if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
        !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
      return 0;
    }
    H2Exchange* x = exchangeOf(session, frame->hd.stream_id);
    if (x != nullptr && !x->remote_ended_) {
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
    }
    return 0;
  }

  static int onStreamClose(nghttp2_session* session, int32_t stream_id, uint32_t /*error_code*/,
                           void* user_data) {
    auto& s = self(user_data);
    s.last_active_ = Clock::now();
    auto it = s.streams_.find(stream_id);
    if (it == s.streams_.end()) return 0;
    auto x = std::move(it->second);
    s.streams_.erase(it);
    // What was queued and will not be read still counts in the connection's window.
    if (!x->body_in_.empty()) nghttp2_session_consume_connection(session, x->body_in_.size());
    x->body_in_.clear();
    x->onClosed();
    return 0;
  }
};

// ---- H2Server -----------------------------------------------------------------

H2Server::H2Server(asio::any_io_executor ex, H2ServerLimits limits, H2Transport transport, Handler handler,
                   std::string initial)
    : ex_(ex),
      limits_(limits),
      transport_(std::move(transport)),
      handler_(std::move(handler)),
      initial_(std::move(initial)),
      want_write_(ex),
      handlers_done_(ex),
      tick_(ex),
      last_active_(Clock::now()) {}

H2Server::~H2Server() {
  if (session_ != nullptr) nghttp2_session_del(session_);
}

std::shared_ptr<H2Server> H2Server::create(asio::any_io_executor ex, H2ServerLimits limits, H2Transport transport,
                                           Handler handler, std::string initial) {
  std::shared_ptr<H2Server> s(
      new H2Server(ex, limits, std::move(transport), std::move(handler), std::move(initial)));
  if (!s->init()) s->finish("nghttp2 session setup failed");
  return s;
}

bool H2Server::init() {
  int rv = hbone::newSession<Callbacks>(&session_, true, this, [this](nghttp2_option* opt) {
    nghttp2_option_set_stream_reset_rate_limit(opt, limits_.reset_burst, limits_.reset_rate);
    nghttp2_option_set_max_send_header_block_length(opt, 64u << 10);
    nghttp2_option_set_no_auto_window_update(opt, 1);  // request bodies give the window back as they are read
  });
  if (rv != 0) return false;
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, limits_.max_concurrent_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits_.stream_window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       static_cast<uint32_t>(limits_.max_header_bytes + 32 * limits_.max_headers)},
  };
  rv = nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, iv, std::size(iv));
  if (rv == 0) {
    rv = nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0,
                                               static_cast<int32_t>(limits_.connection_window));
  }
  return rv == 0;
}

asio::awaitable<void> H2Server::run() {
  using namespace asio::experimental::awaitable_operators;
  auto self = shared_from_this();
  try {
    if (!finished_) co_await (readLoop() && writeLoop() && tickLoop());
  } catch (const std::exception& e) {
    end_reason_ = std::string("failed: ") + e.what();
  }
  finish(end_reason_.empty() ? "ended" : end_reason_);
  // Handlers hold the exchanges (and whatever the caller lent them): wait.
  for (int i = 0; handlers_ > 0; ++i) co_await handlers_done_.wait();
  streams_.clear();
}

bool H2Server::receive(const std::string& bytes) {
  ssize_t rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (rv < 0) {
    // A flood or protocol error nghttp2 will not go on with: GOAWAY, then end.
    if (end_reason_.empty()) end_reason_ = std::string("protocol error: ") + nghttp2_strerror(static_cast<int>(rv));
    nghttp2_session_terminate_session(session_, NGHTTP2_PROTOCOL_ERROR);
    return false;
  }
  return true;
}

asio::awaitable<void> H2Server::readLoop() {
  std::string buf = std::move(initial_);
  for (uint64_t n = 0; !finished_; ++n) {  // ends with the peer, an error, or the session
    if (buf.empty()) {
      if (co_await transport_.read(buf) == 0) {
        peer_eof_ = true;
        if (end_reason_.empty()) end_reason_ = "peer closed";
        // Requests cut short can never complete (their handlers' body reads fail once the resets are out).
        for (auto& [id, x] : streams_) {
          if (!x->remote_ended_) nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
        }
        break;
      }
      if (finished_) break;
    }
    last_active_ = Clock::now();
    bool ok = receive(buf);
    buf.clear();
    kick();
    if (!ok || nghttp2_session_want_read(session_) == 0) break;
  }
  reading_ = false;
  kick();
  if (finished_) tick_.cancel();  // nothing left to linger for
}

asio::awaitable<void> H2Server::writeLoop() {
  std::string wbuf;
  for (uint64_t rounds = 0; !finished_; ++rounds) {  // ends when the session has nothing more to say
    wbuf.clear();
    if (int rv = hbone::takeOutput(session_, wbuf, kWriteBatch); rv != 0) {
      finish(std::string("nghttp2: ") + nghttp2_strerror(rv));
      co_return;
    }
    if (wbuf.empty()) {
      bool over = (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0) ||
                  (peer_eof_ && streams_.empty()) || (!reading_ && !peer_eof_ && streams_.empty());
      if (over) {
        finish(end_reason_.empty() ? "finished" : end_reason_);
        break;
      }
      co_await want_write_.wait();
      continue;
    }
    if (!co_await transport_.write(wbuf)) {
      if (end_reason_.empty()) end_reason_ = "write failed";
      finish(end_reason_);
      break;
    }
  }
}

asio::awaitable<void> H2Server::tickLoop() {
  auto interval = std::min<Clock::duration>(
      {std::chrono::seconds(1), limits_.request_timeout / 2, limits_.stall_timeout / 2, limits_.idle_timeout / 2});
  interval = std::max<Clock::duration>(interval, std::chrono::milliseconds(10));
  // Ends when the session is over and nothing reads any more; after our half
  // is done, the peer has kLinger to close its own.
  for (uint64_t n = 0; !finished_ || reading_; ++n) {
    if (finished_) {
      tick_.expires_at(finished_at_ + kLinger);
    } else {
      tick_.expires_after(interval);
    }
    co_await tick_.async_wait(asio::as_tuple(asio::use_awaitable));
    auto now = Clock::now();
    if (finished_) {
      if (reading_ && now >= finished_at_ + kLinger) transport_.abort();  // the peer did not close after our GOAWAY
      continue;
    }
    std::vector<int32_t> late, stalled;
    for (auto& [id, x] : streams_) {
      if (!x->dispatched_ && now - x->opened_ >= limits_.request_timeout) late.push_back(id);
      // A response the client takes nothing of (its window stays shut, or it
      // half-closed and went away) holds its handler and upstream: reset it.
      bool queued = x->responded_ && !x->closed_ && x->out_.size() > x->out_off_;
      if (queued && now - x->progress_ >= limits_.stall_timeout) {
        stalled.push_back(id);
      }
    }
    for (int32_t id : late) nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
    for (int32_t id : stalled) streams_[id]->reset(NGHTTP2_CANCEL);
    if (streams_.empty() && handlers_ == 0 && now - last_active_ >= limits_.idle_timeout) {
      end_reason_ = "idle";
      nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
    }
    kick();
  }
}

void H2Server::resume(H2Exchange& x) {
  if (finished_ || x.closed_) return;
  if (x.deferred_) {
    x.deferred_ = false;
    nghttp2_session_resume_data(session_, x.id_);
  }
  kick();
}

void H2Server::dispatch(const std::shared_ptr<H2Exchange>& x) {
  x->dispatched_ = true;
  auto& req = x->request_;
  if (!x->authority_.empty()) {
    // :authority is the host (RFC 9113 8.3.1); a host field beside it must not disagree.
    std::erase_if(req.headers, [](const route::Header& h) { return h.name == "host"; });
    req.headers.insert(req.headers.begin(), {"host", x->authority_});
  }
  if (!x->cookies_.empty()) req.headers.push_back({"cookie", std::move(x->cookies_)});
  ++handlers_;
  // Posted, not started here: co_spawn would run the handler at once, inside
  // nghttp2's callback, before the rest of what was read (often the whole
  // body) is taken in.
  asio::post(ex_, [self = shared_from_this(), x] {
    asio::co_spawn(
        self->ex_,
        [self, x]() -> asio::awaitable<void> {
          try {
            co_await self->handler_(x);
          } catch (const std::exception&) {
            // The handler's own failure: the stream is reset below.
          }
          if (!x->closed_ && (!x->responded_ || !x->ended_)) x->reset();
          x->dropBody();
          if (--self->handlers_ == 0) self->handlers_done_.notify();
          self->kick();
        },
        asio::detached);
  });
}

void H2Server::finish(std::string reason) {
  if (finished_) return;
  finished_ = true;
  finished_at_ = Clock::now();
  if (end_reason_.empty()) end_reason_ = std::move(reason);
  if (transport_.close_write) transport_.close_write();
  auto streams = std::move(streams_);
  streams_.clear();
  for (auto& [id, x] : streams) x->onClosed();
  want_write_.notify();
  tick_.cancel();
}

}  // namespace ambit::waypoint::http
