#include "waypoint/http/h2_client.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <nghttp2/nghttp2.h>

#include "common/base/ascii.h"
#include "common/hbone/data_source.h"

namespace ambit::waypoint::http {

namespace {

constexpr std::size_t kWriteBatch = 64u << 10;

using hbone::nv;

}  // namespace

struct H2Client::Callbacks {
  static H2Client& self(void* user_data) { return *static_cast<H2Client*>(user_data); }

  static int onBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto& c = self(user_data);
    if (frame->hd.stream_id != c.stream_id_) return 0;
    c.header_bytes_ = 0;
    if (c.head_ready_) c.in_trailers_ = true;
    return 0;
  }

  static int onHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t /*flags*/, void* user_data) {
    auto& c = self(user_data);
    if (frame->hd.stream_id != c.stream_id_) return 0;
    c.header_bytes_ += namelen + valuelen;
    auto& fields = c.in_trailers_ ? c.trailers_ : c.head_.headers;
    if (c.header_bytes_ > c.limits_.max_header_bytes || fields.size() + 1 > c.limits_.max_headers) {
      c.error_ = c.in_trailers_ ? "upstream trailers too large" : "upstream response head too large";
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // resets the stream
    }
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status" && !c.in_trailers_) {
      int status = 0;
      std::from_chars(v.data(), v.data() + v.size(), status);
      c.head_.status = status;
    } else if (!n.empty() && n.front() != ':') {
      fields.push_back({std::string(n), std::string(v)});
    }
    return 0;
  }

  static int onFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user_data) {
    auto& c = self(user_data);
    if (frame->hd.type == NGHTTP2_GOAWAY) {
      c.goaway_ = true;
      if (c.stream_id_ > frame->goaway.last_stream_id) c.refused_ = true;
      return 0;
    }
    if (frame->hd.stream_id != c.stream_id_ || c.stream_id_ < 0) return 0;
    c.heard_ = true;
    if (frame->hd.type == NGHTTP2_HEADERS && !c.in_trailers_) {
      if (c.head_.status >= 200) {
        c.head_ready_ = true;
        auto cl = c.head_.header("content-length");
        uint64_t length = 0;
        if (!cl.empty() && std::from_chars(cl.data(), cl.data() + cl.size(), length).ec == std::errc()) {
          c.head_.content_length = length;
        }
      } else {
        c.head_.headers.clear();  // 1xx: the final head follows
        c.head_.status = 0;
      }
    }
    if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0 && c.head_ready_) {
      c.ended_ = true;
    }
    return 0;
  }

  static int onDataChunk(nghttp2_session*, uint8_t /*flags*/, int32_t stream_id, const uint8_t* data, size_t len,
                         void* user_data) {
    auto& c = self(user_data);
    if (stream_id == c.stream_id_) c.pending_.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }

  static int onStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user_data) {
    auto& c = self(user_data);
    if (stream_id != c.stream_id_) return 0;
    c.closed_ = true;
    if (error_code == NGHTTP2_REFUSED_STREAM) c.refused_ = true;
    c.taken_.notify();
    if (!c.ended_ && c.error_.empty()) {
      c.error_ = c.refused_ ? "upstream refused the stream"
                            : fmt::format("upstream reset the stream ({})", nghttp2_http2_strerror(error_code));
    }
    return 0;
  }
};

H2Client::H2Client(asio::any_io_executor ex, H2Transport transport, H2ClientLimits limits)
    : transport_(std::move(transport)), limits_(limits), taken_(ex) {
  if (!init()) fail("nghttp2 session setup failed");
}

H2Client::~H2Client() {
  if (session_ != nullptr) nghttp2_session_del(session_);
}

bool H2Client::init() {
  int rv = hbone::newSession<Callbacks>(&session_, false, this, [](nghttp2_option*) {});
  if (rv != 0) return false;
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, limits_.window},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       static_cast<uint32_t>(limits_.max_header_bytes + 32 * limits_.max_headers)},
  };
  rv = nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, iv, std::size(iv));
  if (rv == 0 && limits_.window > NGHTTP2_INITIAL_CONNECTION_WINDOW_SIZE) {
    rv = nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, static_cast<int32_t>(limits_.window));
  }
  return rv == 0;
}

void H2Client::fail(std::string why) {
  broken_ = true;
  if (error_.empty()) error_ = std::move(why);
  taken_.notify();
}

void H2Client::abandon() { fail("abandoned"); }

bool H2Client::reusable() const {
  if (broken_ || goaway_ || session_ == nullptr) return false;
  if (nghttp2_session_want_read(session_) == 0) return false;
  if (stream_id_ < 0) return true;
  return closed_ && ended_ && error_.empty() && pending_.empty() && head_taken_ && out_ended_ &&
         out_off_ == out_.size();
}

bool H2Client::start(const H2ClientRequest& req) {
  if (!reusable()) return false;
  stream_id_ = -1;
  out_.assign(req.body.data(), req.body.size());
  out_off_ = 0;
  out_ended_ = !req.more;
  deferred_ = false;
  head_ = ResponseHead{};
  head_.version = 20;
  trailers_.clear();
  header_bytes_ = 0;
  in_trailers_ = head_ready_ = head_taken_ = ended_ = closed_ = heard_ = refused_ = false;
  pending_.clear();
  error_.clear();

  std::optional<uint64_t> declared = req.more ? req.length : std::optional<uint64_t>(req.body.size());
  std::string length = declared ? std::to_string(*declared) : std::string();
  std::vector<std::string> lowered;  // storage for names that were not lower-case
  std::vector<nghttp2_nv> nva;
  std::size_t n = req.headers ? req.headers->size() : 0;
  lowered.reserve(n);
  nva.reserve(n + 6);
  nva.push_back(nv(":method", req.method));
  nva.push_back(nv(":scheme", req.scheme));
  nva.push_back(nv(":authority", req.authority));
  nva.push_back(nv(":path", req.path));
  if (req.headers) {
    for (const auto& h : *req.headers) {
      std::string_view name = h.name;
      if (std::any_of(name.begin(), name.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
        lowered.push_back(asciiLowered(name));
        name = lowered.back();
      }
      if (name.empty() || name.front() == ':' || name == "content-length") continue;
      // TE passes only as "trailers" (gRPC servers ask for it), RFC 9113 8.2.2.
      if (name == "te") {
        bool trailers = false;
        anyListItem(h.value, [&](std::string_view token) {
          trailers = trailers || equalsIgnoreCase(token, "trailers");
          return trailers;
        });
        if (trailers) nva.push_back(nv("te", "trailers"));
        continue;
      }
      if (name == "host" || connectionSpecific(name)) continue;  // host is the :authority
      nva.push_back(nv(name, h.value));
    }
  }
  bool has_body = !req.body.empty() || req.more;
  if (declared && (has_body || req.method == "POST" || req.method == "PUT" || req.method == "PATCH")) {
    nva.push_back(nv("content-length", length));
  }
  nghttp2_data_provider prd;
  prd.source.ptr = this;
  prd.read_callback = [](nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* data_flags,
                         nghttp2_data_source* source, void*) -> ssize_t {
    auto* c = static_cast<H2Client*>(source->ptr);
    bool took = false;
    ssize_t n = hbone::takeQueued(c->out_, c->out_off_, c->out_ended_, c->deferred_, buf, length, data_flags, took);
    if (took) c->taken_.notify();
    return n;
  };
  int32_t id = nghttp2_submit_request(session_, nullptr, nva.data(), nva.size(), has_body ? &prd : nullptr, nullptr);
  if (id < 0) {
    fail(std::string("submit: ") + nghttp2_strerror(id));
    return false;
  }
  stream_id_ = id;
  ++uses_;
  return true;
}

H2Client::State H2Client::ready(std::string& body) {
  if (stream_id_ < 0) return State::kError;
  if (!head_taken_) {
    if (head_ready_) {
      head_taken_ = true;
      return State::kHead;
    }
    return closed_ || broken_ ? State::kError : State::kNeedMore;
  }
  if (!pending_.empty()) {
    body.append(pending_);
    pending_.clear();
    return State::kBody;
  }
  if (ended_) return State::kDone;
  return closed_ || broken_ ? State::kError : State::kNeedMore;
}

asio::awaitable<H2Client::State> H2Client::next(std::string& body) {
  if (stream_id_ < 0) {
    if (error_.empty()) error_ = "no request";
    co_return State::kError;
  }
  std::string buf;
  for (uint64_t round = 0;; ++round) {  // each round writes or reads; the transport's deadline bounds reads
    auto st = ready(body);
    if (st != State::kNeedMore) {
      if (st == State::kError && error_.empty()) error_ = "upstream stream closed";
      co_return st;
    }
    if (!writing_ && nghttp2_session_want_write(session_) != 0) {
      co_await flush();
      continue;
    }
    buf.clear();
    if (nghttp2_session_want_read(session_) == 0) {
      fail("upstream session ended");
      continue;
    }
    if (co_await transport_.read(buf) == 0) {
      fail("upstream closed the connection");
      continue;
    }
    ssize_t rv = nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(buf.data()), buf.size());
    if (rv < 0) fail(std::string("upstream protocol error: ") + nghttp2_strerror(static_cast<int>(rv)));
  }
}

asio::awaitable<void> H2Client::flush() {
  if (writing_) co_return;
  writing_ = true;
  std::string buf;
  for (uint64_t round = 0; !broken_; ++round) {  // until nghttp2 has nothing more; each round writes
    buf.clear();
    if (int rv = hbone::takeOutput(session_, buf, kWriteBatch); rv != 0) {
      fail(std::string("nghttp2: ") + nghttp2_strerror(rv));
      break;
    }
    if (buf.empty()) break;
    if (!co_await transport_.write(buf)) fail("upstream stream closed while sending");
  }
  writing_ = false;
}

asio::awaitable<bool> H2Client::send(std::string_view data, bool end) {
  if (broken_ || closed_ || stream_id_ < 0 || out_ended_) co_return false;
  hbone::enqueue(out_, out_off_, data);
  out_ended_ = end;
  if (deferred_) {
    deferred_ = false;
    nghttp2_session_resume_data(session_, stream_id_);
  }
  co_await flush();
  for (int i = 0; !broken_ && !closed_ && out_.size() - out_off_ > kWriteBuffer; ++i) co_await taken_.wait();
  co_return !broken_ && !(closed_ && out_off_ < out_.size());
}

}  // namespace ambit::waypoint::http
