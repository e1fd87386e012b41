// Pooled HBONE client connections (architecture.md §4): keyed by {source
// identity, destination identity, destination ip, source ip}, up to 100
// streams each, released after 5 idle minutes. One pool per worker: a pooled
// connection lives on the worker that dialled it, with the app sockets whose
// tunnels it carries. Not thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "common/base/result.h"
#include "common/hbone/connection.h"
#include "common/runtime/event.h"

namespace ambit::hbone {

struct PoolKey {
  std::string source_identity;       // spiffe://...
  std::string destination_identity;  // spiffe://...
  std::string destination;           // "ip:port" of the HBONE listener
  std::string source_ip;             // "" when the kernel picks it
  auto tie() const { return std::tie(source_identity, destination_identity, destination, source_ip); }
  friend bool operator<(const PoolKey& a, const PoolKey& b) { return a.tie() < b.tie(); }
};

struct PoolOptions {
  std::size_t max_streams_per_connection = 100;
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(5)};
  H2Limits limits = H2Limits::client();
};

class ClientPool {
 public:
  // Makes the TLS connection for a key (right certificate, expected peer, netns).
  using Dialer = std::function<asio::awaitable<Result<TlsStream>>()>;

  ClientPool(asio::any_io_executor ex, PoolOptions options);
  ~ClientPool();

  // Sends a CONNECT for `authority` on a pooled connection for `key`, dialling
  // one when none has room. Callers then await Stream::response().
  asio::awaitable<Result<std::shared_ptr<Stream>>> open(const PoolKey& key, const Dialer& dial,
                                                        const std::string& authority,
                                                        const std::vector<Header>& headers);

  // A CONNECT and its response: status 200 means the tunnel is open; 0 means
  // none came (then `error` says why).
  struct Tunnel {
    std::shared_ptr<Stream> stream;
    int status = 0;
    std::string error;
  };
  // open() and then the response within `timeout`. A stream the server refused
  // unprocessed (its GOAWAY crossed our HEADERS while it drained) carried no
  // data, so it is retried on another connection, up to 3 times in all.
  asio::awaitable<Tunnel> connect(const PoolKey& key, const Dialer& dial, const std::string& authority,
                                  const std::vector<Header>& headers, std::chrono::milliseconds timeout);

  std::size_t connections() const;
  // Drain: GOAWAY on every connection; streams in flight finish.
  void goAwayAll();
  void closeAll(const std::string& reason);
  nlohmann::json dump() const;

 private:
  void sweep();
  asio::awaitable<void> sweeper();

  asio::any_io_executor ex_;
  PoolOptions options_;
  std::map<PoolKey, std::vector<std::shared_ptr<Connection>>> conns_;
  std::map<PoolKey, std::shared_ptr<runtime::Event>> dialling_;
  std::shared_ptr<bool> alive_;
  asio::steady_timer sweep_timer_;
};

}  // namespace ambit::hbone
