#include "common/hbone/tls_io.h"

#include <memory>
#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/hbone/authority.h"
#include "common/tls/tls_context.h"

namespace ambit::hbone {

using asio::ip::tcp;

namespace {

// Closes the socket if the deadline passes first. The timer's handler may
// already be queued when the operation wins, so it checks that the deadline
// (and with it the socket) is still there.
class Deadline {
 public:
  Deadline(tcp::socket& s, std::chrono::milliseconds d)
      : state_(std::make_shared<State>(State{&s, false})), timer_(s.get_executor(), d) {
    timer_.async_wait([st = state_](boost::system::error_code ec) {
      if (ec || st->socket == nullptr) return;
      st->expired = true;
      boost::system::error_code ignored;
      st->socket->close(ignored);
    });
  }
  ~Deadline() {
    state_->socket = nullptr;
    timer_.cancel();
  }
  bool expired() const { return state_->expired; }

 private:
  struct State {
    tcp::socket* socket;
    bool expired;
  };
  std::shared_ptr<State> state_;
  asio::steady_timer timer_;
};

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
