#include "waypoint/http/h1_request.h"

#include <algorithm>

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

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

struct H1RequestReader::Impl {
  bhttp::request_parser<bhttp::string_body> parser;
};

H1RequestReader::H1RequestReader(H1Limits limits) : impl_(std::make_unique<Impl>()), limits_(limits) {
  impl_->parser.header_limit(static_cast<std::uint32_t>(std::min<std::size_t>(limits.max_header_bytes, UINT32_MAX)));
  impl_->parser.body_limit(limits.max_body_bytes);
}

H1RequestReader::~H1RequestReader() = default;

bool H1RequestReader::headComplete() const { return impl_->parser.is_header_done() && error_status_ == 0; }

H1RequestReader::State H1RequestReader::fail(int status, std::string reason) {
  error_status_ = status;
  error_reason_ = std::move(reason);
  return State::kError;
}

H1RequestReader::State H1RequestReader::checkHeader() {
  const auto& msg = impl_->parser.get();
  request_.method = std::string(msg.method_string());
  request_.target = std::string(msg.target());
  request_.version = msg.version();
  for (const auto& f : msg) {
    auto name = asciiLowered(f.name_string());
    if (request_.headers.size() >= limits_.max_headers) {
      return fail(431, "more than " + std::to_string(limits_.max_headers) + " headers");
    }
    request_.headers.push_back({std::move(name), std::string(f.value())});
  }
  if (auto why = framingProblem(request_.headers, request_.version); !why.empty()) return fail(400, why);
  return State::kNeedMore;
}

H1RequestReader::State H1RequestReader::feed(std::string& data) {
  if (error_status_ != 0) return State::kError;
  auto& p = impl_->parser;
  if (!p.is_header_done()) {
    // The head goes to Beast only once it is whole: its size, count and
    // framing are checked before anything of the body is read or buffered
    // (Beast's own header_limit only sees one call's bytes).
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
    p.eager(false);  // stop after the head
    std::size_t used = p.put(boost::asio::buffer(data.data(), head.size()), ec);
    if (ec == bhttp::error::header_limit) {
      return fail(431, "request head larger than " + std::to_string(limits_.max_header_bytes) + " bytes");
    }
    if (ec == bhttp::error::body_limit) {  // a Content-Length over the cap is known at the head
      return fail(413, "request body larger than " + std::to_string(limits_.max_body_bytes) + " bytes");
    }
    if (ec) return fail(400, "malformed request: " + ec.message());
    if (!p.is_header_done()) return fail(400, "malformed request head");
    data.erase(0, used);
    if (checkHeader() == State::kError) return State::kError;
    p.eager(true);
  }
  while (!data.empty() && !p.is_done()) {
    beast::error_code ec;
    std::size_t used = p.put(boost::asio::buffer(data), ec);
    if (ec == bhttp::error::need_more) {
      data.erase(0, used);
      // A chunk-size line or a trailer section that never ends must not grow
      // without bound either.
      if (data.size() > limits_.max_header_bytes) return fail(400, "chunk framing line or trailers too long");
      return State::kNeedMore;
    }
    if (ec == bhttp::error::body_limit) {
      return fail(413, "request body larger than " + std::to_string(limits_.max_body_bytes) + " bytes");
    }
    if (ec) return fail(400, "malformed request: " + ec.message());
    data.erase(0, used);
  }
  if (!p.is_done()) return State::kNeedMore;
  // Trailer fields Beast adds to the message are not taken: the headers were
  // copied (and checked) when the head ended.
  request_.body = std::move(p.get().body());
  request_.keep_alive = p.get().keep_alive();
  return State::kDone;
}

H1RequestReader::State H1RequestReader::finish() {
  if (error_status_ != 0) return State::kError;
  if (impl_->parser.is_done()) return State::kDone;
  return fail(400, "the request ended early");
}

}  // namespace ambit::waypoint::http
