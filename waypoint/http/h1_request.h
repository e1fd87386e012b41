// HTTP/1.1 request reading for the waypoint (Boost.Beast's parser, fed the
// bytes of an HBONE stream), with the framing rules that keep requests from
// being smuggled (hardening.md 7): a request is refused (400, and the
// connection closed) when it has both Content-Length and Transfer-Encoding,
// a Transfer-Encoding other than exactly "chunked", more than one
// Content-Length or Transfer-Encoding or Host, Transfer-Encoding on HTTP/1.0,
// no Host on HTTP/1.1, a Content-Length that is not one number, a bare LF,
// obsolete line folding, or whitespace before a header's colon. Trailer fields
// of a chunked body are not taken as headers.
// Header bytes and count are capped (431), and the body is buffered up to a
// cap (413): bounded, and whole, so that a retry or a mirror can resend it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "waypoint/route/match.h"

namespace ambit::waypoint::http {

struct H1Limits {
  std::size_t max_header_bytes = 60 * 1024;
  std::size_t max_headers = 100;
  std::size_t max_body_bytes = 1 << 20;
};

struct Request {
  std::string method;
  std::string target;     // as sent
  unsigned version = 11;  // 10 or 11
  std::vector<route::Header> headers;  // names lower-case, in order
  std::string body;
  bool keep_alive = true;

  // The first value of a header ("" when absent).
  std::string header(std::string_view name) const;
};

class H1RequestReader {
 public:
  enum class State { kNeedMore, kDone, kError };
  explicit H1RequestReader(H1Limits limits);
  ~H1RequestReader();

  // Parses what it can of `data` and drops what it used from the front of it
  // (bytes of a pipelined next request stay). kDone: request() is complete.
  State feed(std::string& data);
  // The peer closed: a request cut short is an error.
  State finish();

  // The head has been read and accepted (its fields are in request()): a
  // client that sent "Expect: 100-continue" waits for a 100 now.
  bool headComplete() const;
  const Request& request() const { return request_; }
  Request takeRequest() { return std::move(request_); }
  // For kError: the status to answer (400, 413, 431) and why.
  int errorStatus() const { return error_status_; }
  const std::string& errorReason() const { return error_reason_; }

 private:
  State fail(int status, std::string reason);
  State checkHeader();  // copies the head's fields and applies the framing rules
  struct Impl;
  std::unique_ptr<Impl> impl_;
  H1Limits limits_;
  Request request_;
  int error_status_ = 0;
  std::string error_reason_;
};

// Pure: the framing rules above, on a request's headers; "" when acceptable,
// else why not.
std::string framingProblem(const std::vector<route::Header>& headers, unsigned version);

}  // namespace ambit::waypoint::http
