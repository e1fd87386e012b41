#include "common/hbone/pool.h"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ambit::hbone {

namespace {

asio::awaitable<void> runConnection(std::shared_ptr<Connection> c) { co_await c->run(); }

}  // namespace

ClientPool::ClientPool(asio::any_io_executor ex, PoolOptions options)
    : ex_(ex), options_(options), alive_(std::make_shared<bool>(true)), sweep_timer_(ex) {
  asio::co_spawn(ex_, sweeper(), asio::detached);
}

ClientPool::~ClientPool() {
  *alive_ = false;
  sweep_timer_.cancel();
  closeAll("pool destroyed");
}

asio::awaitable<void> ClientPool::sweeper() {
  auto alive = alive_;
  auto period = std::clamp<std::chrono::milliseconds>(options_.idle_timeout / 4, std::chrono::milliseconds(10),
                                                      std::chrono::seconds(30));
  for (;;) {
    sweep_timer_.expires_after(period);
    co_await sweep_timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!*alive) co_return;
    sweep();
  }
}

void ClientPool::sweep() {
  auto now = std::chrono::steady_clock::now();
  for (auto it = conns_.begin(); it != conns_.end();) {
    auto& list = it->second;
    for (auto& c : list) {
      if (!c->closed() && c->expired()) c->goAway();  // in-flight streams finish; no new ones
      if (!c->closed() && c->activeStreams() == 0 && now - c->lastActivity() >= options_.idle_timeout) {
        c->goAway();
        c->close("idle");
      }
    }
    list.erase(std::remove_if(list.begin(), list.end(), [](const auto& c) { return c->closed(); }), list.end());
    it = list.empty() ? conns_.erase(it) : std::next(it);
  }
}

asio::awaitable<Result<std::shared_ptr<Stream>>> ClientPool::open(const PoolKey& key, const Dialer& dial,
                                                                  const std::string& authority,
                                                                  const std::vector<Header>& headers) {
  auto alive = alive_;
  std::string last_error = "no HBONE connection";
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (auto it = conns_.find(key); it != conns_.end()) {
      for (auto& c : it->second) {
        if (!c->acceptsStreams(options_.max_streams_per_connection)) continue;
        auto s = c->connect(authority, headers);
        if (s) co_return s;
      }
    }
    if (auto it = dialling_.find(key); it != dialling_.end()) {
      // One dial per key at a time: the others wait for it and then share it.
      auto ev = it->second;
      co_await ev->wait();
      if (!*alive) co_return makeError(ErrorCode::kUnavailable, "HBONE pool shut down");
      continue;
    }
    auto ev = std::make_shared<runtime::Event>(ex_);
    dialling_[key] = ev;
    Result<TlsStream> tls = makeError(ErrorCode::kInternal, "dial did not run");
    try {
      tls = co_await dial();
    } catch (const std::exception& e) {
      tls = makeError(ErrorCode::kInternal, "HBONE dial: {}", e.what());
    }
    if (!*alive) co_return makeError(ErrorCode::kUnavailable, "HBONE pool shut down");
    dialling_.erase(key);
    ev->notify();
    if (!tls) {
      last_error = tls.error().message;
      co_return tls.error();
    }
    auto c = Connection::create(std::move(*tls), Connection::Role::kClient, options_.limits);
    asio::co_spawn(ex_, runConnection(c), asio::detached);
    conns_[key].push_back(c);
    auto s = c->connect(authority, headers);
    if (s) co_return s;
    last_error = s.error().message;
  }
  co_return makeError(ErrorCode::kUnavailable, "{}", last_error);
}

asio::awaitable<ClientPool::Tunnel> ClientPool::connect(const PoolKey& key, const Dialer& dial,
                                                        const std::string& authority,
                                                        const std::vector<Header>& headers,
                                                        std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  Tunnel t;
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto opened = co_await open(key, dial, authority, headers);
    if (!opened) {
      t.error = opened.error().message;
      co_return t;
    }
    t.stream = *opened;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    t.status = co_await t.stream->response(std::max(left, std::chrono::milliseconds(1)));
    if (t.status != 0) co_return t;
    t.error = t.stream->closeReason();
    if (!t.stream->refused() || std::chrono::steady_clock::now() >= deadline) co_return t;
  }
  co_return t;
}

std::size_t ClientPool::connections() const {
  std::size_t n = 0;
  for (const auto& [k, list] : conns_) {
    n += static_cast<std::size_t>(std::count_if(list.begin(), list.end(), [](const auto& c) { return !c->closed(); }));
  }
  return n;
}

void ClientPool::goAwayAll() {
  for (auto& [k, list] : conns_) {
    for (auto& c : list) c->goAway();
  }
}

void ClientPool::closeAll(const std::string& reason) {
  auto all = std::move(conns_);
  conns_.clear();
  for (auto& [k, list] : all) {
    for (auto& c : list) c->close(reason);
  }
}

nlohmann::json ClientPool::dump() const {
  auto out = nlohmann::json::array();
  for (const auto& [k, list] : conns_) {
    for (const auto& c : list) {
      if (c->closed()) continue;
      out.push_back({{"source", k.source_identity},
                     {"destination", k.destination_identity},
                     {"address", k.destination},
                     {"streams", c->activeStreams()}});
    }
  }
  return out;
}

}  // namespace ambit::hbone
