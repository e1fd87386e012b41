// A TCP listener with one acceptor per worker (SO_REUSEPORT), each running an
// accept coroutine on its own worker. Each accepted connection is served on
// the pool's least loaded worker (balance.h), handed over when that is not
// the one that accepted it, and tracked by a Drain.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/base/result.h"
#include "common/runtime/drain.h"
#include "common/runtime/worker_pool.h"

namespace ambit::runtime {

// Per-connection facts a handler may need (the drain handle, to hear about drain).
struct ConnectionContext {
  Drain::Handle& drain;
  std::size_t worker;
};

// Serves one accepted connection; runs on the worker it was placed on. The
// listener closes `socket` if the drain deadline passes first.
using ConnectionHandler =
    std::function<asio::awaitable<void>(asio::ip::tcp::socket& socket, ConnectionContext& ctx)>;

struct ListenerOptions {
  std::string name = "listener";  // for logs
  int backlog = 1024;
  bool reuse_port = true;         // false: a single acceptor on worker 0
  // Makes the listening socket (e.g. inside a pod's network namespace); null =
  // socket() here. Returns the new fd, owned by the listener.
  std::function<Result<int>(int family)> make_socket;
  // Called with each listening socket once it listens (e.g. to file it in a
  // BPF socket map); an error fails the start.
  std::function<Status(int fd)> on_listening;
};

class Listener {
 public:
  // Binds and starts accepting. With port 0 the kernel picks a port and every
  // worker's acceptor shares it.
  static Result<std::unique_ptr<Listener>> start(WorkerPool& pool, Drain& drain,
                                                 asio::ip::tcp::endpoint endpoint,
                                                 ConnectionHandler handler, ListenerOptions options = {});
  ~Listener();

  asio::ip::tcp::endpoint localEndpoint() const { return local_; }
  // Stops accepting at once (thread-safe, idempotent): when it returns, new
  // connections are refused (or go to another SO_REUSEPORT listener). The
  // acceptors close on their workers; live connections go on.
  void stopAccepting();

 struct State;  // implementation detail, shared with the accept coroutines

 private:
  explicit Listener(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
  asio::ip::tcp::endpoint local_;
};

}  // namespace ambit::runtime
