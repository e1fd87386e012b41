#include "common/hbone/tls_io.h"

#include <memory>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/hbone/authority.h"
#include "common/runtime/deadline.h"
#include "common/tls/tls_context.h"

namespace ambit::hbone {

using asio::ip::tcp;
using runtime::Deadline;

namespace {

std::string handshakeFailure(const SSL* ssl, const boost::system::error_code& ec) {
  if (auto why = tls::lastVerifyError(ssl)) return why->message;
  return ec.message();
}

}  // namespace

asio::awaitable<Result<TlsStream>> dialTls(tcp::socket socket, asio::ssl::context& ctx, tcp::endpoint peer,
                                           const tls::Identity& expected, std::chrono::milliseconds timeout) {
  std::string where = formatAuthority(peer.address(), peer.port());
  boost::system::error_code ec;
  if (!socket.is_open()) socket.open(peer.protocol(), ec);
  if (ec) co_return makeError(ErrorCode::kUnavailable, "HBONE to {}: socket: {}", where, ec.message());
  socket.set_option(tcp::no_delay(true), ec);
  // The deadline refers to the stream's socket: it ends before the stream moves out.
  TlsStream stream(std::move(socket), ctx);
  std::optional<Deadline> deadline(std::in_place, stream.next_layer(), timeout);
  std::tie(ec) = co_await stream.next_layer().async_connect(peer, asio::as_tuple(asio::use_awaitable));
  if (ec) {
    co_return makeError(ErrorCode::kUnavailable, "HBONE to {}: connect: {}", where,
                        deadline->expired() ? "timed out" : ec.message());
  }
  if (auto st = tls::setExpectedPeerIdentity(stream.native_handle(), expected); !st) co_return st.error();
  std::tie(ec) = co_await stream.async_handshake(asio::ssl::stream_base::client, asio::as_tuple(asio::use_awaitable));
  if (ec) {
    co_return makeError(ErrorCode::kUnavailable, "HBONE to {}: TLS: {}", where,
                        deadline->expired() ? "timed out" : handshakeFailure(stream.native_handle(), ec));
  }
  deadline.reset();  // before the stream (and its socket) moves out
  if (tls::negotiatedAlpn(stream.native_handle()) != "h2") {
    co_return makeError(ErrorCode::kUnavailable, "HBONE to {}: the peer did not agree to ALPN h2", where);
  }
  co_return std::move(stream);
}

asio::awaitable<Status> acceptTls(TlsStream& stream, std::chrono::milliseconds timeout) {
  Deadline deadline(stream.next_layer(), timeout);
  boost::system::error_code ec;
  stream.next_layer().set_option(tcp::no_delay(true), ec);
  std::tie(ec) = co_await stream.async_handshake(asio::ssl::stream_base::server, asio::as_tuple(asio::use_awaitable));
  if (ec) {
    co_return makeError(ErrorCode::kUnauthenticated, "TLS: {}",
                        deadline.expired() ? "timed out" : handshakeFailure(stream.native_handle(), ec));
  }
  if (tls::negotiatedAlpn(stream.native_handle()) != "h2") {
    co_return makeError(ErrorCode::kInvalidArgument, "TLS: the client did not agree to ALPN h2");
  }
  co_return Status{};
}

}  // namespace ambit::hbone
