// SOCKS5 (RFC 1928), the outbound entry of shared mode (as Istio ztunnel's
// port 15080): with no capture in front of the proxy, a client names its
// destination here. No authentication; CONNECT to an IPv4 or IPv6 literal
// only (ztunnel routes by address, so a domain name is refused, reply 8).
// The source workload is the connection's source address.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/base/result.h"

namespace ambit::ztunnel::socks5 {

namespace asio = boost::asio;

// Reply codes.
inline constexpr uint8_t kSucceeded = 0x00;
inline constexpr uint8_t kGeneralFailure = 0x01;
inline constexpr uint8_t kNotAllowed = 0x02;
inline constexpr uint8_t kHostUnreachable = 0x04;
inline constexpr uint8_t kConnectionRefused = 0x05;
inline constexpr uint8_t kCommandNotSupported = 0x07;
inline constexpr uint8_t kAddressTypeNotSupported = 0x08;

struct Target {
  std::string ip;  // 4 or 16 raw bytes
  uint16_t port = 0;
};

// The request after the method negotiation: VER CMD RSV ATYP ADDR PORT.
// Needs `bytes` to hold all of it: kInvalidArgument with reply code in
// `reply` when it is refused; kUnavailable when more bytes are needed.
Result<Target> parseRequest(std::string_view bytes, uint8_t* reply, std::size_t* consumed);

// Runs the handshake (greeting + request) within `timeout`. On failure the
// client has been sent a refusal (when the protocol allows one).
asio::awaitable<Result<Target>> accept(asio::ip::tcp::socket& socket, std::chrono::milliseconds timeout);

// Sends the final reply (after the upstream side is decided).
asio::awaitable<void> reply(asio::ip::tcp::socket& socket, uint8_t code);

}  // namespace ambit::ztunnel::socks5
