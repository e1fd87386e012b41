// The proxy's open connections: for /config_dump, and so a policy change can
// re-authorize inbound connections and cut the ones now denied (hardening.md
// 11: within 1 s, logged as a late rejection). Thread-safe: connections come
// and go on workers; re-authorization runs on the xDS thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "common/hbone/tunnel.h"
#include "ztunnel/authz/engine.h"
#include "ztunnel/state/state.h"

namespace ambit::ztunnel::proxy {

struct ConnectionRecord {
  std::string direction;     // "inbound" (HBONE), "inbound_plaintext", "outbound"
  std::string source;        // ip:port
  std::string destination;   // ip:port (the original destination)
  std::string source_identity;       // "" when none
  std::string destination_workload;  // uid, "" when outside the mesh
  std::string via;                   // "hbone ip:port", "passthrough", ...
  // Inbound only: what authorization saw, re-checked when policy changes.
  bool enforced = false;
  authz::Connection authz;
  std::chrono::system_clock::time_point started = std::chrono::system_clock::now();
  // Bytes so far (relaxed atomics, read by /config_dump from another thread).
  std::atomic<uint64_t> bytes_to_destination{0};  // the client's bytes (Istio: "received")
  std::atomic<uint64_t> bytes_to_source{0};       // the destination's bytes (Istio: "sent")
  // Closes the connection; thread-safe (posts to the connection's executor).
  std::function<void(const std::string& reason)> cut;
};

class ConnectionTable {
 public:
  // Removes the record when destroyed.
  class Handle {
   public:
    Handle(ConnectionTable* t, uint64_t id, std::shared_ptr<ConnectionRecord> r) : table_(t), id_(id), record_(std::move(r)) {}
    Handle(Handle&& o) noexcept : table_(o.table_), id_(o.id_), record_(std::move(o.record_)) { o.table_ = nullptr; }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() {
      if (table_ != nullptr) table_->remove(id_);
    }
    ConnectionRecord& operator*() const { return *record_; }
    ConnectionRecord* operator->() const { return record_.get(); }

   private:
    ConnectionTable* table_;
    uint64_t id_;
    std::shared_ptr<ConnectionRecord> record_;
  };

  Handle add(std::shared_ptr<ConnectionRecord> r);
  std::size_t size() const;

  // Re-authorizes every enforced connection with `state`'s policies; cuts and
  // logs those now denied. Returns how many were cut.
  std::size_t reauthorize(const ProxyState& state);

  nlohmann::json dump(std::size_t limit = 1000) const;

 private:
  void remove(uint64_t id);

  mutable std::mutex mu_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, std::shared_ptr<ConnectionRecord>> open_;
};

}  // namespace ambit::ztunnel::proxy
