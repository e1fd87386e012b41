#include "common/hbone/authority.h"

#include <gtest/gtest.h>

namespace ambit::hbone {
namespace {

TEST(AuthorityTest, ParsesAndRejects) {
  struct Case {
    const char* text;
    const char* ip;  // nullptr: rejected
    uint16_t port;
  };
  const Case cases[] = {
      {"198.18.0.1:80", "198.18.0.1", 80},
      {"[2001:db8::1]:8080", "2001:db8::1", 8080},
      {"127.0.0.1:65535", "127.0.0.1", 65535},
      {"198.18.0.1", nullptr, 0},            // no port
      {"198.18.0.1:0", nullptr, 0},          // port 0
      {"198.18.0.1:65536", nullptr, 0},      // out of range
      {"198.18.0.1:080", nullptr, 0},        // leading zero
      {"198.18.0.1:+80", nullptr, 0},        // sign
      {"198.18.0.1:8a", nullptr, 0},         // not a number
      {"backend.demo:80", nullptr, 0},       // a host name
      {"2001:db8::1:80", nullptr, 0},        // v6 without brackets
      {"[198.18.0.1]:80", nullptr, 0},       // v4 in brackets
      {"[2001:db8::1]80", nullptr, 0},       // no colon
      {"[2001:db8::1", nullptr, 0},          // no bracket
      {"[fe80::1%eth0]:80", nullptr, 0},     // zone
      {"", nullptr, 0},
      {":80", nullptr, 0},
  };
  for (const auto& c : cases) {
    auto a = parseAuthority(c.text);
    if (c.ip == nullptr) {
      EXPECT_FALSE(a.ok()) << c.text;
      continue;
    }
    ASSERT_TRUE(a.ok()) << c.text << ": " << a.error().message;
    EXPECT_EQ(a->ip.to_string(), c.ip) << c.text;
    EXPECT_EQ(a->port, c.port) << c.text;
    EXPECT_EQ(formatAuthority(a->ip, a->port), c.text);
  }
}

}  // namespace
}  // namespace ambit::hbone
