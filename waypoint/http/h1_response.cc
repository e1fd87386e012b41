#include "waypoint/http/h1_response.h"

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/status.hpp>
#include <fmt/format.h>

#include "common/base/ascii.h"

namespace ambit::waypoint::http {

namespace beast = boost::beast;
namespace bhttp = boost::beast::http;

std::string ResponseHead::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (h.name == name) return h.value;
  }
  return "";
}

struct H1ResponseReader::Parser : bhttp::basic_parser<false> {
  ResponseHead* head = nullptr;
  std::string* body = nullptr;
  bool interim = false;  // the head parsed is a 1xx

  void on_request_impl(bhttp::verb, beast::string_view, beast::string_view, int,
                       beast::error_code&) override {}
  void on_response_impl(int code, beast::string_view reason, int version, beast::error_code&) override {
    head->status = code;
    head->reason = std::string(reason);
    head->version = static_cast<unsigned>(version);
    head->headers.clear();
  }
  void on_field_impl(bhttp::field, beast::string_view name, beast::string_view value,
                     beast::error_code&) override {
    head->headers.push_back({asciiLowered(std::string_view(name.data(), name.size())), std::string(value)});
  }
  void on_header_impl(beast::error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, beast::error_code&) override {}
  std::size_t on_body_impl(beast::string_view b, beast::error_code&) override {
    body->append(b.data(), b.size());
    return b.size();
  }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, beast::error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, beast::string_view b, beast::error_code&) override {
    body->append(b.data(), b.size());
    return b.size();
  }
  void on_finish_impl(beast::error_code&) override {}
};

H1ResponseReader::H1ResponseReader(bool head_request, std::size_t max_header_bytes)
    : head_request_(head_request), max_header_bytes_(max_header_bytes) {
  reset();
}

H1ResponseReader::~H1ResponseReader() = default;

void H1ResponseReader::reset() {
  parser_ = std::make_unique<Parser>();
  parser_->head = &head_;
  parser_->header_limit(static_cast<std::uint32_t>(max_header_bytes_));
  parser_->body_limit(boost::none);  // streamed through, never held
  parser_->eager(true);
  parser_->skip(head_request_);
}

bool H1ResponseReader::headDone() const {
  return head_reported_;
}

H1ResponseReader::State H1ResponseReader::feed(std::string& data, std::string& body) {
  for (int guard = 0; guard < 64; ++guard) {  // bounded: each round consumes bytes, reports, or stops
    if (!error_.empty()) return State::kError;
    parser_->body = &body;
    if (parser_->is_header_done() && !head_reported_) {
      if (head_.status >= 100 && head_.status < 200 && head_.status != 101) {
        reset();  // an interim response (100 Continue, 103 Early Hints): skip it, read the next
        continue;
      }
      head_.keep_alive = parser_->keep_alive();
      auto cl = parser_->content_length();
      head_.content_length = cl ? std::optional<uint64_t>(*cl) : std::nullopt;
      head_.chunked = parser_->chunked();
      head_reported_ = true;
      return State::kHead;
    }
    if (parser_->is_done()) return State::kDone;
    if (data.empty()) return head_reported_ ? State::kBody : State::kNeedMore;
    beast::error_code ec;
    std::size_t used = parser_->put(boost::asio::buffer(data), ec);
    data.erase(0, used);
    if (ec == bhttp::error::need_more) {
      if (used == 0) return head_reported_ ? State::kBody : State::kNeedMore;
    } else if (ec) {
      error_ = "upstream response: " + ec.message();
      return State::kError;
    }
  }
  return head_reported_ ? State::kBody : State::kNeedMore;
}

H1ResponseReader::State H1ResponseReader::finish(std::string& body) {
  parser_->body = &body;
  if (parser_->is_done()) return State::kDone;
  if (!parser_->is_header_done()) {
    // Beast's put_eof takes "nothing at all" for a complete message without
    // a head (status 0): a stream that ended before any response is an error.
    error_ = "upstream closed the connection before responding";
    return State::kError;
  }
  beast::error_code ec;
  parser_->put_eof(ec);
  if (ec || !parser_->is_done()) {
    error_ = "upstream closed the connection before the response was complete";
    return State::kError;
  }
  head_.keep_alive = false;
  return State::kDone;
}

bool hopByHop(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "connection", "keep-alive", "proxy-connection", "transfer-encoding",  "te",
      "trailer",    "upgrade",    "content-length",   "proxy-authenticate", "proxy-authorization"};
  for (auto n : kNames) {
    if (n == name) return true;
  }
  return false;
}

bool safeField(std::string_view name, std::string_view value) {
  if (name.empty()) return false;
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    bool tchar = std::isalnum(u) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
    if (!tchar) return false;
  }
  for (char c : value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

namespace {

void appendFields(std::string& out, const std::vector<route::Header>& headers) {
  for (const auto& h : headers) {
    if (!safeField(h.name, h.value)) continue;
    out += h.name;
    out += ": ";
    out += h.value;
    out += "\r\n";
  }
}

}  // namespace

std::string serializeRequest(std::string_view method, std::string_view target,
                             const std::vector<route::Header>& headers, std::string_view body) {
  std::string out;
  out.reserve(256 + body.size());
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  appendFields(out, headers);
  if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
    out += fmt::format("content-length: {}\r\n", body.size());
  }
  out += "\r\n";
  out.append(body);
  return out;
}

std::string serializeRequestHead(std::string_view method, std::string_view target,
                                 const std::vector<route::Header>& headers, std::optional<uint64_t> length) {
  std::string out;
  out.reserve(256);
  out.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  appendFields(out, headers);
  out += length ? fmt::format("content-length: {}\r\n", *length) : std::string("transfer-encoding: chunked\r\n");
  out += "\r\n";
  return out;
}

std::string_view reasonPhrase(int status) {
  auto r = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  return {r.data(), r.size()};
}

std::string serializeResponseHead(int status, std::string_view reason,
                                  const std::vector<route::Header>& headers) {
  std::string out = fmt::format("HTTP/1.1 {} {}\r\n", status, reason.empty() ? reasonPhrase(status) : reason);
  appendFields(out, headers);
  out += "\r\n";
  return out;
}

std::string localResponse(int status, std::string_view body, const std::vector<route::Header>& extra,
                          bool keep_alive) {
  std::vector<route::Header> h = extra;
  if (status != 204) h.push_back({"content-length", std::to_string(body.size())});
  if (!body.empty()) h.push_back({"content-type", "text/plain"});
  if (!keep_alive) h.push_back({"connection", "close"});
  std::string out = serializeResponseHead(status, "", h);
  out.append(body);
  return out;
}

}  // namespace ambit::waypoint::http
