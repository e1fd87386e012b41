// An HBONE server-side handler for tests: answers 200 and echoes the tunnel
// until the client's END_STREAM, then ends its side.
#pragma once

#include <memory>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "common/hbone/connection.h"

namespace ambit::test {

inline boost::asio::awaitable<void> echoTunnel(std::shared_ptr<hbone::Stream> s) {
  s->respond(200);
  std::vector<char> buf(16384);
  for (;;) {
    auto n = co_await s->read(boost::asio::buffer(buf));
    if (n == 0) break;
    co_await s->write(boost::asio::buffer(buf.data(), n));
  }
  s->closeWrite();
}

}  // namespace ambit::test
