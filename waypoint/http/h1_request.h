// HTTP/1.1 request reading for the waypoint (Boost.Beast's parser, fed the
// bytes of an HBONE stream), with the framing rules that keep requests from
// being smuggled (hardening.md 7): a request is refused (400, and the
// connection closed) when it has both Content-Length and Transfer-Encoding,
// a Transfer-Encoding other than exactly "chunked", more than one
// Content-Length or Transfer-Encoding or Host, Transfer-Encoding on HTTP/1.0,
// no Host on HTTP/1.1, a Content-Length that is not one number, a bare LF,
// obsolete line folding, or whitespace before a header's colon. Trailer fields
// of a chunked body are not taken as headers.
// Header bytes and count are capped (431). The body is not buffered here: it
// is handed out as it is parsed (feedBody), so it can stream upstream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "waypoint/route/match.h"

namespace ambit::waypoint::http {

struct H1Limits {
  std::size_t max_header_bytes = 60 * 1024;
  std::size_t max_headers = 100;
  // Request body bytes kept for a retry or a mirror (http::RequestBody); the
  // reader itself does not bound a body.
  std::size_t max_body_bytes = 1 << 20;
};

struct Request {
  std::string method;
  std::string target;     // as sent
  unsigned version = 11;  // 10 or 11
  std::vector<route::Header> headers;  // names lower-case, in order
  std::string body;  // what of the body is here (all of it, unless the rest streams)
  bool keep_alive = true;

  // The first value of a header ("" when absent).
  std::string header(std::string_view name) const;
};

// One request of an HTTP/1.1 connection: its head, then its body.
class H1RequestReader {
 public:
  enum class State { kNeedMore, kHead, kDone, kError };
  explicit H1RequestReader(H1Limits limits);
  ~H1RequestReader();

  // Parses the head from `data` and drops what it used from the front of it.
  // kHead: the head is in and accepted (request() has it, body empty); the
  // body, if any, follows through feedBody().
  State feedHead(std::string& data);
  // After kHead: parses body bytes from `data`, appends them to `out` and
  // drops what it used (bytes of a pipelined next request stay). kNeedMore:
  // `data` is used up and more of the body is to come; kDone: the body ended
  // (at once for a request without one).
  State feedBody(std::string& data, std::string& out);
  // The peer closed: a request cut short is an error.
  State finish();

  // The body ended (or there was none).
  bool done() const;
  // The length the client declared (Content-Length), if it did.
  std::optional<uint64_t> declaredLength() const;
  const Request& request() const { return request_; }
  Request takeRequest() { return std::move(request_); }
  // For kError: the status to answer (400, 431) and why.
  int errorStatus() const { return error_status_; }
  const std::string& errorReason() const { return error_reason_; }

 private:
  State fail(int status, std::string reason);
  class Parser;
  H1Limits limits_;
  Request request_;
  std::unique_ptr<Parser> parser_;  // fills request_
  int error_status_ = 0;
  std::string error_reason_;
};

// Pure: the framing rules above, on a request's headers; "" when acceptable,
// else why not.
std::string framingProblem(const std::vector<route::Header>& headers, unsigned version);

}  // namespace ambit::waypoint::http
