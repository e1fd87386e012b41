// Drain bookkeeping: a set of live connections and a condition variable.
#include "common/runtime/drain.h"

#include <boost/asio/post.hpp>

namespace ambit::runtime {

struct Drain::Entry {
  asio::any_io_executor executor;
  std::function<void()> on_deadline;
  std::function<void()> on_drain;
  // Touched only on `executor`: a callback posted there checks it, so a
  // connection that ended before its callback ran is never touched.
  bool alive = true;
  bool drain_signalled = false;
};

Drain::Handle& Drain::Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    release();
    drain_ = other.drain_;
    entry_ = std::move(other.entry_);
    other.drain_ = nullptr;
  }
  return *this;
}

Drain::Handle::~Handle() { release(); }

void Drain::Handle::release() {
  if (drain_ && entry_) {
    entry_->alive = false;
    drain_->remove(entry_);
  }
  drain_ = nullptr;
  entry_.reset();
}

void Drain::Handle::onDrain(std::function<void()> fn) {
  if (!entry_) return;
  if (draining()) {
    entry_->drain_signalled = true;
    fn();
    return;
  }
  entry_->on_drain = std::move(fn);
}

bool Drain::Handle::draining() const { return drain_ && drain_->draining(); }

Drain::Handle Drain::track(asio::any_io_executor executor, std::function<void()> on_deadline) {
  auto e = std::make_shared<Entry>();
  e->executor = std::move(executor);
  e->on_deadline = std::move(on_deadline);
  std::lock_guard lock(mu_);
  live_.insert(e);
  return Handle(this, e);
}

void Drain::remove(const std::shared_ptr<Entry>& e) {
  std::lock_guard lock(mu_);
  if (live_.erase(e) && draining_) {
    ++ended_while_draining_;
    cv_.notify_all();
  }
}

uint64_t Drain::onStart(std::function<void()> stop_accepting) {
  uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    if (!draining_) {
      id = next_id_++;
      stop_accepting_.emplace(id, std::move(stop_accepting));
    }
  }
  if (id == 0) stop_accepting();
  return id;
}

void Drain::removeOnStart(uint64_t id) {
  std::lock_guard lock(mu_);
  stop_accepting_.erase(id);
}

bool Drain::draining() const {
  std::lock_guard lock(mu_);
  return draining_;
}

std::size_t Drain::active() const {
  std::lock_guard lock(mu_);
  return live_.size();
}

Drain::Outcome Drain::drainAndWait(std::chrono::milliseconds deadline, std::chrono::milliseconds grace) {
  std::map<uint64_t, std::function<void()>> stoppers;
  std::set<std::shared_ptr<Entry>> snapshot;
  {
    std::lock_guard lock(mu_);
    draining_ = true;
    stoppers.swap(stop_accepting_);
    snapshot = live_;
  }
  for (auto& [id, stop] : stoppers) stop();
  for (const auto& e : snapshot) {
    asio::post(e->executor, [e] {
      if (e->alive && !e->drain_signalled && e->on_drain) {
        e->drain_signalled = true;
        e->on_drain();
      }
    });
  }

  Outcome out;
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, deadline, [&] { return live_.empty(); });
  out.finished = ended_while_draining_;
  snapshot = live_;
  out.cut = snapshot.size();
  lock.unlock();

  for (const auto& e : snapshot) {
    asio::post(e->executor, [e] {
      if (e->alive && e->on_deadline) e->on_deadline();
    });
  }
  lock.lock();
  out.all_closed = cv_.wait_for(lock, grace, [&] { return live_.empty(); });
  return out;
}

}  // namespace ambit::runtime
