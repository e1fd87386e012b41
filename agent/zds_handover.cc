#include "agent/zds_handover.h"

namespace ambit::agent {

Status ZdsHandover::add(const zds::Pod& pod) {
  std::unique_lock lock(mu_);
  if (!server_) {
    pending_[pod.uid] = pod;
    return {};
  }
  auto* s = server_.get();
  lock.unlock();
  return s->add(pod);
}

Status ZdsHandover::remove(const std::string& uid) {
  std::unique_lock lock(mu_);
  if (!server_) {
    pending_.erase(uid);
    return {};
  }
  auto* s = server_.get();
  lock.unlock();
  return s->remove(uid);
}

Status ZdsHandover::open(zds::ServerOptions options) {
  std::lock_guard lock(mu_);
  options.initial = pending_;
  auto server = zds::Server::listen(std::move(options));
  if (!server) return server.error();
  pending_.clear();
  server_ = std::move(*server);
  return {};
}

std::size_t ZdsHandover::connected() const {
  std::lock_guard lock(mu_);
  return server_ ? server_->connected() : 0;
}

}  // namespace ambit::agent
