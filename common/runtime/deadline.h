// Deadline: closes a socket if an operation on it takes longer than allowed.
// Scoped: destroy (or reset) it once the guarded operations are done. Its
// timer's handler may already be queued when the operation wins, so the
// handler checks that the deadline (and with it the socket) is still there.
#pragma once

#include <chrono>
#include <memory>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace ambit::runtime {

class Deadline {
 public:
  Deadline(boost::asio::ip::tcp::socket& s, std::chrono::milliseconds d)
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
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  bool expired() const { return state_->expired; }

 private:
  struct State {
    boost::asio::ip::tcp::socket* socket;
    bool expired;
  };
  std::shared_ptr<State> state_;
  boost::asio::steady_timer timer_;
};

}  // namespace ambit::runtime
