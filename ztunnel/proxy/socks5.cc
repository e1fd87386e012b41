#include "ztunnel/proxy/socks5.h"

#include "common/runtime/deadline.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace ambit::ztunnel::socks5 {

using asio::ip::tcp;

Result<Target> parseRequest(std::string_view b, uint8_t* reply, std::size_t* consumed) {
  auto refuse = [&](uint8_t code, std::string_view why) {
    *reply = code;
    return makeError(ErrorCode::kInvalidArgument, "SOCKS5: {}", why);
  };
  auto more = [] { return makeError(ErrorCode::kUnavailable, "SOCKS5: need more bytes"); };
  if (b.size() < 4) return more();
  if (static_cast<uint8_t>(b[0]) != 5) return refuse(kGeneralFailure, "not version 5");
  if (static_cast<uint8_t>(b[1]) != 1) return refuse(kCommandNotSupported, "only CONNECT is supported");
  uint8_t atyp = static_cast<uint8_t>(b[3]);
  std::size_t len = atyp == 1 ? 4 : atyp == 4 ? 16 : 0;
  if (len == 0) return refuse(kAddressTypeNotSupported, "only IPv4 and IPv6 addresses are supported");
  if (b.size() < 4 + len + 2) return more();
  Target t;
  t.ip.assign(b.data() + 4, len);
  t.port = static_cast<uint16_t>((static_cast<uint8_t>(b[4 + len]) << 8) | static_cast<uint8_t>(b[5 + len]));
  if (t.port == 0) return refuse(kGeneralFailure, "port 0");
  *consumed = 4 + len + 2;
  return t;
}

asio::awaitable<Result<Target>> accept(tcp::socket& socket, std::chrono::milliseconds timeout) {
  runtime::Deadline deadline(socket, timeout);
  auto fail = [&](std::string why) -> Result<Target> {
    return makeError(ErrorCode::kInvalidArgument, "SOCKS5: {}", deadline.expired() ? "handshake timed out" : why);
  };
  uint8_t head[2];
  auto [ec, n] = co_await asio::async_read(socket, asio::buffer(head), asio::as_tuple(asio::use_awaitable));
  if (ec) co_return fail("greeting: " + ec.message());
  if (head[0] != 5) co_return fail("not version 5");
  uint8_t methods[255];
  std::tie(ec, n) = co_await asio::async_read(socket, asio::buffer(methods, head[1]), asio::as_tuple(asio::use_awaitable));
  if (ec) co_return fail("greeting: " + ec.message());
  bool no_auth = false;
  for (std::size_t i = 0; i < head[1]; ++i) no_auth = no_auth || methods[i] == 0;
  uint8_t choice[2] = {5, static_cast<uint8_t>(no_auth ? 0x00 : 0xFF)};
  std::tie(ec, n) = co_await asio::async_write(socket, asio::buffer(choice), asio::as_tuple(asio::use_awaitable));
  if (ec || !no_auth) co_return fail("client offers no 'no authentication' method");
  // VER CMD RSV ATYP, then the address by type (v4 4, v6 16) and the port.
  char req[4 + 16 + 2];
  std::tie(ec, n) = co_await asio::async_read(socket, asio::buffer(req, 4), asio::as_tuple(asio::use_awaitable));
  if (ec) co_return fail("request: " + ec.message());
  std::size_t rest = req[3] == 1 ? 6 : req[3] == 4 ? 18 : 0;
  if (rest > 0) {
    std::tie(ec, n) = co_await asio::async_read(socket, asio::buffer(req + 4, rest), asio::as_tuple(asio::use_awaitable));
    if (ec) co_return fail("request: " + ec.message());
  }
  uint8_t code = kGeneralFailure;
  std::size_t used = 0;
  auto t = parseRequest(std::string_view(req, 4 + rest), &code, &used);
  if (!t) {
    co_await reply(socket, code);
    co_return t.error();
  }
  co_return t;
}

asio::awaitable<void> reply(tcp::socket& socket, uint8_t code) {
  // BND.ADDR/BND.PORT: 0.0.0.0:0 (clients do not use them for CONNECT).
  uint8_t out[10] = {5, code, 0, 1, 0, 0, 0, 0, 0, 0};
  co_await asio::async_write(socket, asio::buffer(out), asio::as_tuple(asio::use_awaitable));
}

}  // namespace ambit::ztunnel::socks5
