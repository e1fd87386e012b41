// Event: a single-threaded "something changed, look again" signal for
// coroutines on one executor (a stream's reader waiting for data, a write pump
// waiting for frames). Waiters re-check their condition in a loop, so a notify
// wakes every waiter and a notify with no waiter is remembered once.
#pragma once

#include <chrono>
#include <algorithm>
#include <cstddef>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ambit::runtime {

namespace asio = boost::asio;

class Event {
 public:
  explicit Event(asio::any_io_executor ex) : timer_(ex, asio::steady_timer::time_point::max()) {}

  // Returns after the next notify() (or at once if one came while nobody waited).
  // Also returns when the awaiting coroutine is cancelled; callers re-check.
  asio::awaitable<void> wait() {
    if (pending_) {
      pending_ = false;
      co_return;
    }
    ++waiters_;
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    --waiters_;
  }

  // As wait(), but gives up after `d`; false on timeout.
  asio::awaitable<bool> waitFor(std::chrono::steady_clock::duration d) {
    if (pending_) {
      pending_ = false;
      co_return true;
    }
    asio::steady_timer t(timer_.get_executor(), d);
    ++waiters_;
    timed_.push_back(&t);
    auto [ec] = co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    bool woke = static_cast<bool>(ec);  // cancelled by notify()
    --waiters_;
    timed_.erase(std::find(timed_.begin(), timed_.end(), &t));
    co_return woke;
  }

  void notify() {
    if (waiters_ == 0) {
      pending_ = true;
      return;
    }
    timer_.cancel();
    for (auto* t : timed_) t->cancel();
  }

 private:
  asio::steady_timer timer_;
  std::size_t waiters_ = 0;
  std::vector<asio::steady_timer*> timed_;
  bool pending_ = false;
};

}  // namespace ambit::runtime
