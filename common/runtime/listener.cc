// Accept loops, one per worker.
#include "common/runtime/listener.h"

#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <utility>
#include <mutex>

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

struct Listener::State : std::enable_shared_from_this<Listener::State> {
  WorkerPool& pool;
  Drain& drain;
  ConnectionHandler handler;
  ListenerOptions options;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<std::size_t> workers;
  std::vector<asio::io_context*> contexts;  // acceptors[i] lives on contexts[i]
  std::shared_ptr<spdlog::logger> log = log::scope("listener");
  std::mutex mu;        // guards stopped and the shutdown of the fds
  bool stopped = false;
  uint64_t drain_hook = 0;  // Drain::onStart id, removed when the listener goes

  State(WorkerPool& p, Drain& d, ConnectionHandler h, ListenerOptions o)
      : pool(p), drain(d), handler(std::move(h)), options(std::move(o)) {}

  // Stops accepting now, from any thread: shutdown() takes each listening
  // socket out of the kernel's lookups at once (new connections are refused,
  // or go to another SO_REUSEPORT listener; queued ones migrate when
  // tcp_migrate_req is on). Then each acceptor is closed on its own worker and
  // waited for (bounded), so none is left open for the io_context's teardown.
  void stop() {
    std::vector<std::future<void>> closed;
    {
      std::lock_guard lock(mu);
      if (stopped) return;
      stopped = true;
      for (auto& acc : acceptors) ::shutdown(acc->native_handle(), SHUT_RD);
      for (std::size_t i = 0; i < acceptors.size(); ++i) {
        auto* a = acceptors[i].get();
        if (contexts[i]->get_executor().running_in_this_thread()) {
          boost::system::error_code ignored;
          a->close(ignored);
          continue;
        }
        auto done = std::make_shared<std::promise<void>>();
        closed.push_back(done->get_future());
        asio::post(*contexts[i], [self = shared_from_this(), a, done] {
          boost::system::error_code ignored;
          a->close(ignored);
          done->set_value();
        });
      }
    }
    for (auto& f : closed) f.wait_for(std::chrono::seconds(1));  // bounded: a stopped worker never runs it
  }
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
    if (ec) ::close(*fd);  // not adopted: still ours
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
  if (opts.on_listening) {
    if (auto st = opts.on_listening(acc->native_handle()); !st) return st.error().wrap(opts.name);
  }
  return acc;
}

// `load` counts the connection against its worker while it is served.
asio::awaitable<void> serve(std::shared_ptr<Listener::State> st, tcp::socket socket, std::size_t worker,
                            [[maybe_unused]] WorkerPool::Load load) {
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

// A descriptor in flight between workers: closed if nobody adopts it (the
// target's io_context was torn down with the hand-over still queued).
struct HandedOver {
  int fd = -1;
  explicit HandedOver(int f) : fd(f) {}
  HandedOver(HandedOver&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  HandedOver& operator=(HandedOver&&) = delete;
  ~HandedOver() {
    if (fd >= 0) ::close(fd);
  }
};

// Moves an accepted connection to worker `target` and serves it there. The
// socket has no pending operations yet, so releasing its descriptor from this
// worker's reactor and adopting it on the target's is all it takes.
void handOver(const std::shared_ptr<Listener::State>& st, tcp::socket socket, std::size_t target,
              WorkerPool::Load load) {
  boost::system::error_code ec;
  auto protocol = socket.local_endpoint(ec).protocol();
  if (ec) return;  // already reset by the peer: the socket closes here
  HandedOver fd(socket.release(ec));
  if (ec) return;
  auto& ctx = st->pool.context(target);
  asio::post(ctx, [st, &ctx, fd = std::move(fd), protocol, target, load = std::move(load)]() mutable {
    tcp::socket adopted(ctx);
    boost::system::error_code aec;
    adopted.assign(protocol, fd.fd, aec);
    if (aec) {
      log::warn(*st->log, "handover_failed", "listener", st->options.name, "error", aec.message());
      return;  // fd still ours: closed with the lambda
    }
    fd.fd = -1;
    asio::co_spawn(ctx, serve(st, std::move(adopted), target, std::move(load)), asio::detached);
  });
}

asio::awaitable<void> acceptLoop(std::shared_ptr<Listener::State> st, tcp::acceptor& acceptor, std::size_t worker) {
  auto executor = co_await asio::this_coro::executor;
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || ec == asio::error::invalid_argument || !acceptor.is_open()) break;
    if (ec) {
      // Out of fds or memory: back off briefly instead of spinning on accept.
      log::warn(*st->log, "accept_failed", "listener", st->options.name, "error", ec.message());
      asio::steady_timer t(executor, std::chrono::milliseconds(50));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto [target, load] = st->pool.place(worker);
    if (target != worker) {
      handOver(st, std::move(socket), target, std::move(load));
      continue;
    }
    asio::co_spawn(executor, serve(st, std::move(socket), worker, std::move(load)), asio::detached);
  }
}

}  // namespace

Listener::Listener(std::shared_ptr<State> state) : state_(std::move(state)) {}

Listener::~Listener() {
  stopAccepting();
  state_->drain.removeOnStart(state_->drain_hook);
}

Result<std::unique_ptr<Listener>> Listener::start(WorkerPool& pool, Drain& drain, tcp::endpoint endpoint,
                                                  ConnectionHandler handler, ListenerOptions options) {
  auto st = std::make_shared<State>(pool, drain, std::move(handler), std::move(options));
  std::size_t count = st->options.reuse_port ? pool.size() : 1;
  tcp::endpoint bind_ep = endpoint;
  for (std::size_t i = 0; i < count; ++i) {
    auto acc = openAcceptor(pool.context(i), bind_ep, st->options);
    if (!acc) return acc.error();
    if (i == 0) bind_ep = (*acc)->local_endpoint();  // port 0 -> the port the kernel chose
    st->acceptors.push_back(std::move(*acc));
    st->workers.push_back(i);
    st->contexts.push_back(&pool.context(i));
  }
  auto listener = std::unique_ptr<Listener>(new Listener(st));
  listener->local_ = bind_ep;
  for (std::size_t i = 0; i < st->acceptors.size(); ++i) {
    asio::co_spawn(pool.context(i), acceptLoop(st, *st->acceptors[i], i), asio::detached);
  }
  std::weak_ptr<State> weak = st;
  st->drain_hook = drain.onStart([weak] {
    // "Refused once the drain started" holds as soon as this returns.
    if (auto s = weak.lock()) s->stop();
  });
  log::info(*st->log, "listening", "listener", st->options.name, "address", bind_ep.address().to_string(),
            "port", bind_ep.port(), "acceptors", st->acceptors.size());
  return listener;
}

void Listener::stopAccepting() { state_->stop(); }

}  // namespace ambit::runtime
