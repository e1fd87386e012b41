// TLS connection set-up for HBONE, with deadlines: the client side (dial,
// handshake, the peer must be the expected workload, ALPN must be h2) and the
// server side (handshake, ALPN h2, the peer's verified identity).
#pragma once

#include <chrono>
#include <optional>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include "common/base/result.h"
#include "common/hbone/connection.h"
#include "common/tls/spiffe_id.h"

namespace ambit::hbone {

// Connects `socket` (opened by the caller, e.g. inside a pod's netns, or not yet
// open) to `peer` and runs the TLS client handshake, all within `timeout`.
// The server must present exactly `expected`. Errors say which step failed
// and, when we refused the peer's certificate, why.
asio::awaitable<Result<TlsStream>> dialTls(asio::ip::tcp::socket socket, asio::ssl::context& ctx,
                                           asio::ip::tcp::endpoint peer, const tls::Identity& expected,
                                           std::chrono::milliseconds timeout);

// Server handshake on an accepted socket within `timeout`; requires ALPN h2.
asio::awaitable<Status> acceptTls(TlsStream& stream, std::chrono::milliseconds timeout);

}  // namespace ambit::hbone
