// What a tunnel to a port of undeclared protocol carries, from its first bytes
// (pure; table-tested). As in Istio, HTTP is detected and anything else is
// TCP; a protocol whose server speaks first must be declared (tcp-*), since
// its client sends nothing to detect.
#pragma once

#include <string_view>

namespace ambit::waypoint::http {

enum class Sniffed {
  kNeedMore,  // not decided yet: read more
  kHttp2,     // the HTTP/2 connection preface (prior knowledge)
  kHttp1,     // a request line's method token and its space
  kOther,     // anything else: TCP
};

// At most kSniffBytes are needed to decide.
inline constexpr std::size_t kSniffBytes = 24;

Sniffed sniff(std::string_view first);

}  // namespace ambit::waypoint::http
