// The byte stream an HTTP/2 session runs on (an HBONE tunnel in the
// waypoint), for the server side of a client's tunnel and the client side of
// an upstream one.
#pragma once

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

}  // namespace ambit::waypoint::http
