// Copies a TCP connection's bytes through an HBONE stream, both ways, with
// half-close: the app's EOF becomes END_STREAM, the peer's END_STREAM becomes
// a TCP shutdown(SHUT_WR). An error on either side resets the stream and
// closes the socket, which ends the other direction too.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/hbone/connection.h"

namespace ambit::hbone {

struct TunnelOutcome {
  bool clean = true;   // both directions ended with EOF
  std::string error;   // the first failure, when not clean
};

// `buffer_size`: bytes per direction held while copying (two buffers per
// tunnel). The counters move as bytes do (relaxed atomics: /config_dump reads
// them from another thread).
asio::awaitable<TunnelOutcome> copyBidirectional(asio::ip::tcp::socket& socket, Stream& stream,
                                                 std::atomic<uint64_t>& socket_to_stream,
                                                 std::atomic<uint64_t>& stream_to_socket,
                                                 std::size_t buffer_size = 16u << 10);

// The same between two TCP sockets (passthrough and same-node plain paths).
// `a_to_b` counts bytes a -> b, `b_to_a` the other way.
asio::awaitable<TunnelOutcome> copyBidirectional(asio::ip::tcp::socket& a, asio::ip::tcp::socket& b,
                                                 std::atomic<uint64_t>& a_to_b, std::atomic<uint64_t>& b_to_a,
                                                 std::size_t buffer_size = 16u << 10);

// The same between two HBONE streams on one executor (a waypoint passing TCP
// through): END_STREAM on one becomes closeWrite() on the other; a reset of
// either resets both.
asio::awaitable<TunnelOutcome> copyBidirectional(Stream& a, Stream& b, std::atomic<uint64_t>& a_to_b,
                                                 std::atomic<uint64_t>& b_to_a, std::size_t buffer_size = 16u << 10);

}  // namespace ambit::hbone
