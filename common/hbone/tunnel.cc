#include "common/hbone/tunnel.h"

#include <memory>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace ambit::hbone {

using asio::ip::tcp;

namespace {

void closeSocket(tcp::socket& s) {
  boost::system::error_code ignored;
  s.shutdown(tcp::socket::shutdown_both, ignored);
  s.close(ignored);
}

void noteError(TunnelOutcome& out, std::string what) {
  if (out.clean) {
    out.clean = false;
    out.error = std::move(what);
  }
}

// Runs both directions to completion (neither cancels the other: each ends
// the other through the socket or the stream on error).
template <typename F1, typename F2>
asio::awaitable<void> both(F1 f1, F2 f2) {
  auto ex = co_await asio::this_coro::executor;
  auto group = asio::experimental::make_parallel_group(asio::co_spawn(ex, std::move(f1), asio::deferred),
                                                       asio::co_spawn(ex, std::move(f2), asio::deferred));
  co_await group.async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
}

}  // namespace

asio::awaitable<TunnelOutcome> copyBidirectional(tcp::socket& socket, Stream& stream,
                                                 std::atomic<uint64_t>& socket_to_stream,
                                                 std::atomic<uint64_t>& stream_to_socket, std::size_t buffer_size) {
  TunnelOutcome out;
  auto up = [&]() -> asio::awaitable<void> {
    std::unique_ptr<char[]> buf(new char[buffer_size]);
    try {
      for (;;) {
        auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf.get(), buffer_size),
                                                       asio::as_tuple(asio::use_awaitable));
        if (ec == asio::error::eof) {
          stream.closeWrite();
          co_return;
        }
        if (ec) {
          noteError(out, "client read: " + ec.message());
          stream.reset();
          co_return;
        }
        co_await stream.write(asio::buffer(buf.get(), n));
        socket_to_stream.fetch_add(n, std::memory_order_relaxed);
      }
    } catch (const boost::system::system_error& e) {
      noteError(out, std::string("tunnel: ") + e.what());
      closeSocket(socket);
    }
  };
  auto down = [&]() -> asio::awaitable<void> {
    std::unique_ptr<char[]> buf(new char[buffer_size]);
    try {
      for (;;) {
        std::size_t n = co_await stream.read(asio::buffer(buf.get(), buffer_size));
        if (n == 0) {
          boost::system::error_code ignored;
          socket.shutdown(tcp::socket::shutdown_send, ignored);
          co_return;
        }
        auto [ec, w] = co_await asio::async_write(socket, asio::buffer(buf.get(), n), asio::as_tuple(asio::use_awaitable));
        if (ec) {
          noteError(out, "client write: " + ec.message());
          stream.reset();
          closeSocket(socket);
          co_return;
        }
        stream_to_socket.fetch_add(n, std::memory_order_relaxed);
      }
    } catch (const boost::system::system_error& e) {
      noteError(out, std::string("tunnel: ") + e.what());
      closeSocket(socket);
    }
  };
  co_await both(up, down);
  co_return out;
}

asio::awaitable<TunnelOutcome> copyBidirectional(tcp::socket& a, tcp::socket& b, std::atomic<uint64_t>& a_to_b,
                                                 std::atomic<uint64_t>& b_to_a, std::size_t buffer_size) {
  TunnelOutcome out;
  auto pump = [&](tcp::socket& from, tcp::socket& to, std::atomic<uint64_t>& count) {
    return [&, buffer_size]() -> asio::awaitable<void> {
      std::unique_ptr<char[]> buf(new char[buffer_size]);
      for (;;) {
        auto [ec, n] = co_await from.async_read_some(asio::buffer(buf.get(), buffer_size),
                                                     asio::as_tuple(asio::use_awaitable));
        if (ec == asio::error::eof) {
          boost::system::error_code ignored;
          to.shutdown(tcp::socket::shutdown_send, ignored);
          co_return;
        }
        if (!ec) std::tie(ec, n) = co_await asio::async_write(to, asio::buffer(buf.get(), n),
                                                               asio::as_tuple(asio::use_awaitable));
        if (ec) {
          if (ec != asio::error::operation_aborted && ec != asio::error::bad_descriptor) noteError(out, ec.message());
          else noteError(out, "closed");
          closeSocket(from);
          closeSocket(to);
          co_return;
        }
        count.fetch_add(n, std::memory_order_relaxed);
      }
    };
  };
  co_await both(pump(a, b, a_to_b), pump(b, a, b_to_a));
  co_return out;
}

asio::awaitable<TunnelOutcome> copyBidirectional(Stream& a, Stream& b, std::atomic<uint64_t>& a_to_b,
                                                 std::atomic<uint64_t>& b_to_a, std::size_t buffer_size) {
  TunnelOutcome out;
  auto pump = [&](Stream& from, Stream& to, std::atomic<uint64_t>& count) {
    return [&, buffer_size]() -> asio::awaitable<void> {
      std::unique_ptr<char[]> buf(new char[buffer_size]);
      try {
        for (;;) {
          std::size_t n = co_await from.read(asio::buffer(buf.get(), buffer_size));
          if (n == 0) {
            to.closeWrite();
            co_return;
          }
          co_await to.write(asio::buffer(buf.get(), n));
          count.fetch_add(n, std::memory_order_relaxed);
        }
      } catch (const boost::system::system_error& e) {
        noteError(out, std::string("tunnel: ") + e.what());
        from.reset();
        to.reset();
      }
    };
  };
  // A pump blocked on one stream is not woken by the other's reset: each
  // stream's abort resets the other, which wakes it.
  a.onAbort([&b] { b.reset(); });
  b.onAbort([&a] { a.reset(); });
  co_await both(pump(a, b, a_to_b), pump(b, a, b_to_a));
  a.onAbort({});
  b.onAbort({});
  co_return out;
}

}  // namespace ambit::hbone
