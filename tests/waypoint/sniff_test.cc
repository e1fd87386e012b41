// Protocol detection on ports of undeclared protocol: HTTP/2 preface, an
// HTTP/1.x request line, or TCP.
#include "waypoint/http/sniff.h"

#include <string>

#include <gtest/gtest.h>

namespace ambit::waypoint::http {
namespace {

TEST(SniffTest, Table) {
  using S = Sniffed;
  struct Case {
    std::string in;
    Sniffed want;
  } cases[] = {
      {"", S::kNeedMore},
      {"G", S::kNeedMore},
      {"GET", S::kNeedMore},
      {"GET ", S::kHttp1},
      {"GET / HTTP/1.1\r\n", S::kHttp1},
      {"POST /x HTTP/1.1", S::kHttp1},
      {"M-SEARCH * HTTP/1.1", S::kHttp1},
      {"PRI", S::kNeedMore},                 // a prefix of the preface
      {"PRI * HTTP/2.0\r\n", S::kNeedMore},  // still the preface
      {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", S::kHttp2},
      {std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + "\x00\x00\x12\x04", S::kHttp2},
      {"PRI * HTTP/1.1\r\n", S::kHttp1},  // not the preface: a request line with method PRI
      {"hello\n", S::kOther},             // lower case: not a method
      {" GET", S::kOther},
      {std::string("\x16\x03\x01\x02\x00", 5), S::kOther},  // a TLS ClientHello
      {"SSH-2.0-OpenSSH_9.2\r\n", S::kOther},
      {"*1\r\n$4\r\nPING\r\n", S::kOther},            // Redis
      {"ABCDEFGHIJKLMNOPQRSTUVWXYZ", S::kOther},      // no space within a method's length
      {"ABCDEFGHIJKLMNOPQRST", S::kNeedMore},         // 20 method characters: may still be one
      {"ABCDEFGHIJKLMNOPQRSTU", S::kOther},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(sniff(c.in), c.want) << "'" << c.in << "'";
  }
}

}  // namespace
}  // namespace ambit::waypoint::http
