// The byte stream an HTTP/2 session runs on (an HBONE tunnel in the
// waypoint), for the server side of a client's tunnel and the client side of
// an upstream one.
#pragma once

#include <algorithm>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

namespace ambit::waypoint::http {

namespace asio = boost::asio;

struct H2Transport {
  // Appends what arrives to `out`; 0 when the peer closed or the stream died.
  std::function<asio::awaitable<std::size_t>(std::string& out)> read;
  // false when the stream is gone.
  std::function<asio::awaitable<bool>(std::string_view)> write;
  std::function<void()> close_write;  // our half is done
  std::function<void()> abort;        // the peer lingers: drop the stream
};

// Fields HTTP/2 forbids (RFC 9113 8.2.2) or that only framed HTTP/1.1.
inline bool connectionSpecific(std::string_view name) {
  static constexpr std::string_view kNames[] = {"connection", "keep-alive", "proxy-connection",
                                                "transfer-encoding", "upgrade", "te"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

}  // namespace ambit::waypoint::http
