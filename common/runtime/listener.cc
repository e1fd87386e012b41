// Accept loops, one per worker.
#include "common/runtime/listener.h"

#include <future>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/log/log.h"

namespace ambit::runtime {

using asio::ip::tcp;

struct Listener::State {
  Drain& drain;
  ConnectionHandler handler;
  ListenerOptions options;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::size_t> workers;
  std::shared_ptr<spdlog::logger> log = log::scope("listener");

  State(Drain& d, ConnectionHandler h, ListenerOptions o)
      : drain(d), handler(std::move(h)), options(std::move(o)) {}
};

namespace {

Result<std::unique_ptr<tcp::acceptor>> openAcceptor(asio::io_context& ctx, const tcp::endpoint& ep,
                                                     const ListenerOptions& opts) {
  auto acc = std::make_unique<tcp::acceptor>(ctx);
  boost::system::error_code ec;
  if (opts.make_socket) {
    auto fd = opts.make_socket(ep.protocol().family());
    if (!fd) return fd.error().wrap(opts.name);
    acc->assign(ep.protocol(), *fd, ec);
  } else {
    acc->open(ep.protocol(), ec);
  }
  if (!ec) acc->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && opts.reuse_port) {
    int one = 1;
    if (::setsockopt(acc->native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
      ec.assign(errno, boost::system::system_category());
    }
  }
  if (!ec && ep.address().is_v6()) acc->set_option(asio::ip::v6_only(true), ec);
  if (!ec) acc->bind(ep, ec);
  if (!ec) acc->listen(opts.backlog, ec);
  if (ec) {
    return makeError(ErrorCode::kUnavailable, "{}: cannot listen on {}:{}: {}", opts.name,
                     ep.address().to_string(), ep.port(), ec.message());
  }
  return acc;
}

asio::awaitable<void> serve(std::shared_ptr<Listener::State> st, tcp::socket socket, std::size_t worker) {
  auto executor = co_await asio::this_coro::executor;
  Drain::Handle handle = st->drain.track(executor, [&socket] {
    boost::system::error_code ignored;
    socket.shutdown(tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  });
  ConnectionContext ctx{handle, worker};
  try {
    co_await st->handler(socket, ctx);
  } catch (const std::exception& e) {
    log::error(*st->log, "connection_handler_failed", "listener", st->options.name, "what", e.what());
  }
}

asio::awaitable<void> acceptLoop(std::shared_ptr<Listener::State> st, tcp::acceptor& acceptor, std::size_t worker) {
  auto executor = co_await asio::this_coro::executor;
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
    if (ec) {
      // Out of fds or memory: back off briefly instead of spinning on accept.
      log::warn(*st->log, "accept_failed", "listener", st->options.name, "error", ec.message());
      asio::steady_timer t(executor, std::chrono::milliseconds(50));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    asio::co_spawn(executor, serve(st, std::move(socket), worker), asio::detached);
  }
}

}  // namespace

Listener::Listener(std::shared_ptr<State> state) : state_(std::move(state)) {}

Listener::~Listener() { stopAccepting(); }

Result<std::unique_ptr<Listener>> Listener::start(WorkerPool& pool, Drain& drain, tcp::endpoint endpoint,
                                                  ConnectionHandler handler, ListenerOptions options) {
  auto st = std::make_shared<State>(drain, std::move(handler), std::move(options));
  std::size_t count = st->options.reuse_port ? pool.size() : 1;
  tcp::endpoint bind_ep = endpoint;
  for (std::size_t i = 0; i < count; ++i) {
    auto acc = openAcceptor(pool.context(i), bind_ep, st->options);
    if (!acc) return acc.error();
    if (i == 0) bind_ep = (*acc)->local_endpoint();  // port 0 -> the port the kernel chose
    st->acceptors.push_back(std::move(*acc));
    st->workers.push_back(i);
  }
  auto listener = std::unique_ptr<Listener>(new Listener(st));
  listener->local_ = bind_ep;
  for (std::size_t i = 0; i < st->acceptors.size(); ++i) {
    asio::co_spawn(pool.context(i), acceptLoop(st, *st->acceptors[i], i), asio::detached);
  }
  std::weak_ptr<State> weak = st;
  drain.onStart([weak] {
    // Runs on the draining thread (never a worker): wait until every acceptor is
    // closed, so "refused once the drain started" holds when drainAndWait goes on.
    if (auto s = weak.lock()) {
      std::vector<std::future<void>> closed;
      for (auto& acc : s->acceptors) {
        auto done = std::make_shared<std::promise<void>>();
        closed.push_back(done->get_future());
        asio::post(acc->get_executor(), [s, a = acc.get(), done] {
          boost::system::error_code ignored;
          a->close(ignored);
          done->set_value();
        });
      }
      for (auto& f : closed) f.wait_for(std::chrono::seconds(1));  // bounded: a stopped pool never runs it
    }
  });
  log::info(*st->log, "listening", "listener", st->options.name, "address", bind_ep.address().to_string(),
            "port", bind_ep.port(), "acceptors", st->acceptors.size());
  return listener;
}

void Listener::stopAccepting() {
  auto st = state_;
  for (auto& acc : st->acceptors) {
    asio::post(acc->get_executor(), [st, a = acc.get()] {
      boost::system::error_code ignored;
      a->close(ignored);
    });
  }
}

}  // namespace ambit::runtime
