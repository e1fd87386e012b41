#include "ztunnel/proxy/connections.h"

#include <vector>

#include "common/log/log.h"
#include "common/tls/cert_builder.h"

namespace ambit::ztunnel::proxy {

ConnectionTable::Handle ConnectionTable::add(std::shared_ptr<ConnectionRecord> r) {
  std::lock_guard lock(mu_);
  uint64_t id = next_id_++;
  open_[id] = r;
  return Handle(this, id, std::move(r));
}

void ConnectionTable::remove(uint64_t id) {
  std::lock_guard lock(mu_);
  open_.erase(id);
}

std::size_t ConnectionTable::size() const {
  std::lock_guard lock(mu_);
  return open_.size();
}

std::size_t ConnectionTable::reauthorize(const ProxyState& state) {
  auto logger = log::scope("ztunnel.authz");
  std::vector<std::pair<std::shared_ptr<ConnectionRecord>, std::string>> denied;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, r] : open_) {
      if (!r->enforced) continue;
      auto dst = state.workloadByUid(r->destination_workload);
      if (!dst) {
        denied.emplace_back(r, "destination workload " + r->destination_workload + " is gone");
        continue;
      }
      auto d = authz::decide(state.policies().applicable(*dst), r->authz);
      if (!d.allowed) denied.emplace_back(r, d.reason);
    }
  }
  // Cut outside the lock: cut() posts to the connection's worker.
  for (auto& [r, why] : denied) {
    log::warn(*logger, "connection_late_rejected", "src", r->source, "dst", r->destination, "identity",
              r->source_identity.empty() ? "-" : r->source_identity, "reason", why);
    if (r->cut) r->cut("policy changed: " + why);
  }
  return denied.size();
}

nlohmann::json ConnectionTable::dump(std::size_t limit) const {
  std::lock_guard lock(mu_);
  auto list = nlohmann::json::array();
  for (const auto& [id, r] : open_) {
    if (list.size() >= limit) break;
    list.push_back({{"id", id},
                    {"direction", r->direction},
                    {"source", r->source},
                    {"destination", r->destination},
                    {"source_identity", r->source_identity},
                    {"destination_workload", r->destination_workload},
                    {"via", r->via},
                    {"started", tls::formatTime(r->started)},
                    {"bytes_to_destination", r->bytes_to_destination.load(std::memory_order_relaxed)},
                    {"bytes_to_source", r->bytes_to_source.load(std::memory_order_relaxed)}});
  }
  return nlohmann::json{{"count", open_.size()}, {"connections", std::move(list)}};
}

}  // namespace ambit::ztunnel::proxy
