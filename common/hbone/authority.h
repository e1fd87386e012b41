// CONNECT :authority values of HBONE: "ip:port" or "[v6]:port", never a host name.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/ip/address.hpp>

#include "common/base/result.h"

namespace ambit::hbone {

struct Authority {
  boost::asio::ip::address ip;
  uint16_t port = 0;
};

// Strict: a literal IPv4 address, or an IPv6 literal in brackets (no zone), a
// colon and a decimal port 1-65535 without sign or leading zeros.
Result<Authority> parseAuthority(std::string_view text);

std::string formatAuthority(const boost::asio::ip::address& ip, uint16_t port);

}  // namespace ambit::hbone
