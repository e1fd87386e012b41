// HTTP/1.1 on the upstream side and the bytes we write: a response reader on
// Beast's basic_parser that hands body bytes out as they arrive (a response
// is streamed, never buffered whole), and the serializers for requests and
// responses. Serializers drop a field whose name is not a token or whose
// value holds CR, LF or NUL, so no configured or forwarded value can split a
// message.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "waypoint/route/match.h"

namespace ambit::waypoint::http {

struct ResponseHead {
  int status = 0;
  std::string reason;
  unsigned version = 11;
  std::vector<route::Header> headers;  // names lower-case, in order
  bool keep_alive = true;              // the upstream keeps the connection open after this response
  std::optional<uint64_t> content_length;
  bool chunked = false;
  std::string header(std::string_view name) const;  // the first value, "" when absent
};

class H1ResponseReader {
 public:
  enum class State { kNeedMore, kHead, kBody, kDone, kError };
  // `head_request`: the response to a HEAD has no body whatever it says.
  H1ResponseReader(bool head_request, std::size_t max_header_bytes);
  ~H1ResponseReader();

  // Parses what it can of `data` (used bytes are dropped from its front) and
  // appends body bytes to `body`. kHead once the head is complete and not yet
  // taken (head() then: 1xx interim responses are skipped); kBody while the
  // body goes on; kDone when the message is complete.
  State feed(std::string& data, std::string& body);
  // The upstream closed: ends a body delimited by the close, else an error.
  State finish(std::string& body);

  const ResponseHead& head() const { return head_; }
  bool headDone() const;
  const std::string& error() const { return error_; }

 private:
  struct Parser;
  void reset();
  bool head_request_;
  std::size_t max_header_bytes_;
  std::unique_ptr<Parser> parser_;
  ResponseHead head_;
  bool head_reported_ = false;
  std::string error_;
};

// Hop-by-hop fields (RFC 9110 7.6.1) a proxy must not forward, plus framing
// fields the proxy sets itself; names lower-case.
bool hopByHop(std::string_view name);
// A field the serializers will write: a token name, a value without CR/LF/NUL.
bool safeField(std::string_view name, std::string_view value);

// The head alone of a request whose body follows as it arrives: framed by
// the `length` the client declared, else chunked.
std::string serializeRequestHead(std::string_view method, std::string_view target,
                                 const std::vector<route::Header>& headers, std::optional<uint64_t> length);
// "METHOD target HTTP/1.1" + fields + (Content-Length when a body or a method
// that carries one) + body.
std::string serializeRequest(std::string_view method, std::string_view target,
                             const std::vector<route::Header>& headers, std::string_view body);
// Status line and fields; the caller has put the framing field in `headers`.
std::string serializeResponseHead(int status, std::string_view reason,
                                  const std::vector<route::Header>& headers);
// A complete response the waypoint makes itself (errors, redirects, faults).
std::string localResponse(int status, std::string_view body, const std::vector<route::Header>& extra,
                          bool keep_alive);
// The standard reason phrase of a status ("" when unknown).
std::string_view reasonPhrase(int status);

}  // namespace ambit::waypoint::http
