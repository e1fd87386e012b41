// Raw address bytes (as WDS and authorization resources carry them) from text.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <string>

namespace ambit::test {

inline std::string rawIp(const char* text) {
  unsigned char buf[16];
  if (inet_pton(AF_INET, text, buf) == 1) return std::string(reinterpret_cast<char*>(buf), 4);
  EXPECT_EQ(inet_pton(AF_INET6, text, buf), 1) << text;
  return std::string(reinterpret_cast<char*>(buf), 16);
}

}  // namespace ambit::test
