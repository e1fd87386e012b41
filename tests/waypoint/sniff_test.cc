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
      {"GET ", S::kNeedMore},
      {"GET /", S::kNeedMore},
      {"GET / HTTP/1", S::kNeedMore},
      {"GET / HTTP/1.1\r", S::kNeedMore},
      {"GET / HTTP/1.1\r\n", S::kHttp1},
      {"GET / HTTP/1.0\r\nHost: x\r\n", S::kHttp1},
      {"POST /x?y=1 HTTP/1.1\r\n", S::kHttp1},
      {"M-SEARCH * HTTP/1.1\r\n", S::kHttp1},
      {"OPTIONS * HTTP/1.1\r\n", S::kHttp1},
      {"GET / HTTP/1.1\n", S::kOther},   // bare LF: not a request line the waypoint would take
      {"GET / HTTP/2.0\r\n", S::kOther},
      {"GET  / HTTP/1.1\r\n", S::kOther},
      {"PRI", S::kNeedMore},                 // a prefix of the preface
      {"PRI * HTTP/2.0\r\n", S::kNeedMore},  // still the preface
      {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", S::kHttp2},
      {std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + "\x00\x00\x12\x04", S::kHttp2},
      {"PRI * HTTP/1.1\r\n", S::kHttp1},  // not the preface: a request line with method PRI
      // Client-first text protocols whose first word looks like a method.
      {"SET key value\r\n", S::kOther},  // Redis inline command
      {"NICK alice\r\n", S::kOther},     // IRC
      {"CAP LS 302\r\n", S::kOther},
      {"hello\n", S::kOther},  // lower case: not a method
      {" GET", S::kOther},
      {std::string("\x16\x03\x01\x02\x00", 5), S::kOther},  // a TLS ClientHello
      {"SSH-2.0-OpenSSH_9.2\r\n", S::kOther},
      {"*1\r\n$4\r\nPING\r\n", S::kOther},  // Redis
      {"ABCDEFGHIJKLMNOPQRSTUVWXYZ", S::kOther},  // longer than a method
      {"ABCDEFGHIJKLMNOPQRST", S::kNeedMore},     // 20 method characters: may still be one
      {"GET /" + std::string(kSniffMax, 'a'), S::kOther},  // no line end within the cap
  };
  for (const auto& c : cases) {
    EXPECT_EQ(sniff(c.in), c.want) << "'" << c.in.substr(0, 40) << "'";
  }
  EXPECT_EQ(sniffVersion("GET / HTTP/1.1\r\n"), S::kHttp1);
  EXPECT_EQ(sniffVersion("hello"), S::kHttp1);  // declared HTTP: the HTTP/1.1 parser answers it
  EXPECT_EQ(sniffVersion("PRI * HT"), S::kNeedMore);
  EXPECT_EQ(sniffVersion("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), S::kHttp2);
}

}  // namespace
}  // namespace ambit::waypoint::http
