#include "waypoint/http/h1_request.h"

#include <algorithm>

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/basic_parser.hpp>

#include "common/base/ascii.h"

namespace ambit::waypoint::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

namespace {

// Beast accepts a bare LF as a line end; we do not (a front end and a back end
// that disagree on it can be made to see different requests).
bool hasBareLf(std::string_view head) {
  for (std::size_t i = 0; i < head.size(); ++i) {
    if (head[i] == '\n' && (i == 0 || head[i - 1] != '\r')) return true;
  }
  return false;
}

}  // namespace

std::string Request::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (h.name == name) return h.value;
  }
  return "";
}

std::string framingProblem(const std::vector<route::Header>& headers, unsigned version) {
  int cl = 0, te = 0, host = 0;
  std::string te_value;
  for (const auto& h : headers) {
    if (h.name == "content-length") {
      ++cl;
      auto v = trimOws(h.value);
      if (v.empty() || v.find_first_not_of("0123456789") != std::string_view::npos) return "Content-Length is not a number";
    }
    if (h.name == "transfer-encoding") {
      ++te;
      te_value = asciiLowered(trimOws(h.value));
    }
    if (h.name == "host") ++host;
  }
  if (cl > 0 && te > 0) return "both Content-Length and Transfer-Encoding";
  if (cl > 1) return "more than one Content-Length";
  if (te > 1) return "more than one Transfer-Encoding";
  if (te == 1 && version < 11) return "Transfer-Encoding on HTTP/1.0";
  if (te == 1 && te_value != "chunked") return "Transfer-Encoding other than chunked";
  if (host > 1) return "more than one Host";
  if (host == 0 && version >= 11) return "no Host header";
  return "";
}

// Beast's parser without a message: the head's fields go straight into our
// Request (names lower-cased, counted), and body bytes are appended to
// whatever string the caller gives for this call.
class H1RequestReader::Parser final : public bhttp::basic_parser<true> {
 public:
  Parser(Request& req, const H1Limits& limits) : req_(req), limits_(limits) {}

  std::string* out = nullptr;  // where body bytes go during a put
  bool too_many = false;       // the field count went over the limit

 private:
  void on_request_impl(bhttp::verb, beast::string_view method, beast::string_view target, int version,
                       beast::error_code&) override {
    req_.method.assign(method.data(), method.size());
    req_.target.assign(target.data(), target.size());
    req_.version = static_cast<unsigned>(version);
  }
  void on_response_impl(int, beast::string_view, int, beast::error_code& ec) override {
    ec = bhttp::error::bad_method;  // a request parser never sees a status line
  }
  void on_field_impl(bhttp::field, beast::string_view name, beast::string_view value,
                     beast::error_code& ec) override {
    if (head_done_) return;  // a chunked body's trailer fields are not headers
    if (req_.headers.size() >= limits_.max_headers) {
      too_many = true;
      ec = bhttp::error::header_limit;
      return;
    }
    req_.headers.push_back({asciiLowered(std::string_view(name.data(), name.size())),
                            std::string(value.data(), value.size())});
  }
  void on_header_impl(beast::error_code&) override { head_done_ = true; }
  void on_body_init_impl(const boost::optional<std::uint64_t>&, beast::error_code&) override {}
  std::size_t on_body_impl(beast::string_view body, beast::error_code&) override {
    out->append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, beast::error_code&) override {
    out->append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(beast::error_code&) override {}

  Request& req_;
  const H1Limits& limits_;
  bool head_done_ = false;
};

H1RequestReader::H1RequestReader(H1Limits limits)
    : limits_(limits), parser_(std::make_unique<Parser>(request_, limits_)) {
  parser_->header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(limits.max_header_bytes, UINT32_MAX)));
  parser_->body_limit(boost::none);  // bodies stream: nothing of them is held here
  parser_->eager(false);             // stop after the head
}

H1RequestReader::~H1RequestReader() = default;

bool H1RequestReader::done() const { return parser_->is_done(); }

std::optional<uint64_t> H1RequestReader::declaredLength() const {
  if (!parser_->is_header_done() || parser_->chunked()) return std::nullopt;
  auto n = parser_->content_length();
  if (!n) return 0;  // no Content-Length and not chunked: no body
  return *n;
}

H1RequestReader::State H1RequestReader::fail(int status, std::string reason) {
  error_status_ = status;
  error_reason_ = std::move(reason);
  return State::kError;
}

H1RequestReader::State H1RequestReader::feedHead(std::string& data) {
  if (error_status_ != 0) return State::kError;
  auto& p = *parser_;
  if (p.is_header_done()) return State::kHead;
  // The head goes to Beast only once it is whole: its size, count and framing
  // are checked before anything of the body is read (Beast's own header_limit
  // only sees one call's bytes).
  auto eoh = data.find("\r\n\r\n");
  std::string_view head(data.data(), eoh == std::string::npos ? data.size() : eoh + 4);
  if (hasBareLf(head)) return fail(400, "bare LF in the request head");
  if (head.find("\r\n ") != std::string_view::npos || head.find("\r\n\t") != std::string_view::npos) {
    return fail(400, "obsolete line folding in the request head");
  }
  if (head.size() > limits_.max_header_bytes) {
    return fail(431, "request head larger than " + std::to_string(limits_.max_header_bytes) + " bytes");
  }
  if (eoh == std::string::npos) return State::kNeedMore;
  beast::error_code ec;
  std::size_t used = p.put(boost::asio::buffer(data.data(), head.size()), ec);
  if (p.too_many) return fail(431, "more than " + std::to_string(limits_.max_headers) + " headers");
  if (ec == bhttp::error::header_limit) {
    return fail(431, "request head larger than " + std::to_string(limits_.max_header_bytes) + " bytes");
  }
  if (ec) return fail(400, "malformed request: " + ec.message());
  if (!p.is_header_done()) return fail(400, "malformed request head");
  data.erase(0, used);
  if (auto why = framingProblem(request_.headers, request_.version); !why.empty()) return fail(400, why);
  request_.keep_alive = p.keep_alive();
  p.eager(true);
  return State::kHead;
}

H1RequestReader::State H1RequestReader::feedBody(std::string& data, std::string& out) {
  if (error_status_ != 0) return State::kError;
  auto& p = *parser_;
  p.out = &out;
  std::size_t taken = 0;  // bytes of `data` used; erased once, at the end
  State st = State::kDone;
  while (!p.is_done()) {
    if (taken == data.size()) {
      st = State::kNeedMore;
      break;
    }
    beast::error_code ec;
    std::size_t used = p.put(boost::asio::buffer(data.data() + taken, data.size() - taken), ec);
    taken += used;
    if (ec == bhttp::error::need_more) {
      // A chunk-size line or a trailer section that never ends must not grow
      // without bound either.
      if (data.size() - taken > limits_.max_header_bytes) st = fail(400, "chunk framing line or trailers too long");
      else st = State::kNeedMore;
      break;
    }
    if (ec) {
      st = fail(400, "malformed request body: " + ec.message());
      break;
    }
    if (used == 0 && !p.is_done()) {  // no progress without an error: wait for more
      st = State::kNeedMore;
      break;
    }
  }
  p.out = nullptr;
  data.erase(0, taken);
  return st;
}

H1RequestReader::State H1RequestReader::finish() {
  if (error_status_ != 0) return State::kError;
  if (parser_->is_done()) return State::kDone;
  return fail(400, "the request ended early");
}

}  // namespace ambit::waypoint::http
