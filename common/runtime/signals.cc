// SIGTERM/SIGINT through an Asio signal_set on a small thread of its own.
#include "common/runtime/signals.h"

#include <csignal>
#include <cstdlib>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

namespace ambit::runtime {

struct ShutdownSignal::SignalThread {
  boost::asio::io_context ctx{1};
  boost::asio::signal_set set{ctx, SIGTERM, SIGINT};
  std::thread thread;
};

void ShutdownSignal::armSignals() {
  signals_->set.async_wait([this](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (requested()) {
      // A second signal while draining: the operator wants out now.
      std::_Exit(128 + sig);
    }
    request(sig == SIGTERM ? "SIGTERM" : "SIGINT");
    armSignals();
  });
}

ShutdownSignal::ShutdownSignal(bool watch_signals) {
  if (!watch_signals) return;
  signals_ = std::make_unique<SignalThread>();
  armSignals();
  signals_->thread = std::thread([s = signals_.get()] { s->ctx.run(); });
}

ShutdownSignal::~ShutdownSignal() {
  if (signals_) {
    signals_->ctx.stop();
    if (signals_->thread.joinable()) signals_->thread.join();
  }
}

void ShutdownSignal::request(const std::string& reason) {
  std::lock_guard lock(mu_);
  if (requested_) return;
  requested_ = true;
  reason_ = reason;
  cv_.notify_all();
}

std::string ShutdownSignal::wait() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return requested_; });
  return reason_;
}

bool ShutdownSignal::requested() const {
  std::lock_guard lock(mu_);
  return requested_;
}

}  // namespace ambit::runtime
