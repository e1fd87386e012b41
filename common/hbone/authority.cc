#include "common/hbone/authority.h"

#include <fmt/format.h>

namespace ambit::hbone {

Result<Authority> parseAuthority(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return makeError(ErrorCode::kInvalidArgument, "authority '{}': {}", text.substr(0, 64), why);
  };
  if (text.empty() || text.size() > 64) return bad("expected ip:port");
  std::string_view host;
  std::string_view port;
  if (text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return bad("expected [ipv6]:port");
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("no port");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return bad("an IPv6 address must be in brackets");
  }
  if (port.empty() || port.size() > 5 || (port.size() > 1 && port[0] == '0')) return bad("bad port");
  uint32_t p = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return bad("bad port");
    p = p * 10 + static_cast<uint32_t>(c - '0');
  }
  if (p == 0 || p > 65535) return bad("port out of range");
  boost::system::error_code ec;
  auto ip = boost::asio::ip::make_address(std::string(host), ec);
  if (ec) return bad("not an IP address");
  if (ip.is_v6() && (text.front() != '[' || ip.to_v6().scope_id() != 0)) return bad("bad IPv6 literal");
  if (ip.is_v4() && text.front() == '[') return bad("IPv4 in brackets");
  return Authority{ip, static_cast<uint16_t>(p)};
}

std::string formatAuthority(const boost::asio::ip::address& ip, uint16_t port) {
  if (ip.is_v6()) return fmt::format("[{}]:{}", ip.to_string(), port);
  return fmt::format("{}:{}", ip.to_string(), port);
}

}  // namespace ambit::hbone
