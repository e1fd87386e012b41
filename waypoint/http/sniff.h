// What a tunnel carries, from its first bytes (pure; table-tested).
//   - A port declared HTTP: only the version is in question (sniffVersion):
//     the HTTP/2 preface (prior knowledge), else HTTP/1.1.
//   - A port of undeclared protocol (sniff): HTTP when the bytes are the
//     HTTP/2 preface or a whole HTTP/1.x request line ("GET /x HTTP/1.1\r\n",
//     as Envoy's http_inspector requires); anything else is TCP. A protocol
//     whose server speaks first must be declared (tcp-*): its client sends
//     nothing to sniff. Taking HTTP for TCP cannot weaken policy: for TCP an
//     ALLOW rule with HTTP fields never grants and a DENY rule loses them
//     (it denies the whole connection).
#pragma once

#include <cstddef>
#include <string_view>

namespace ambit::waypoint::http {

enum class Sniffed {
  kNeedMore,  // not decided yet: read more
  kHttp2,     // the HTTP/2 connection preface (prior knowledge)
  kHttp1,     // an HTTP/1.x request
  kOther,     // anything else: TCP
};

// Bytes enough to decide: a request line longer than this is taken for TCP.
inline constexpr std::size_t kSniffMax = 8192;

Sniffed sniffVersion(std::string_view first);
Sniffed sniff(std::string_view first);

}  // namespace ambit::waypoint::http
