// Certificates for the workloads this node proxy serves (architecture.md §4):
// for each identity, an ECDSA P-256 key and a certificate from ambitd's CA
// (asked for with ImpersonatedIdentity), refreshed at half-life; a failed
// refresh keeps the old certificate and retries with backoff; when none is
// valid, handshakes fail closed (tls_context refuses an expired bundle), never
// plaintext. Traffic for a workload waits for its first certificate.
//
// Fetches run on the manager's own thread; handshakes read the per-identity
// CertificateStore at any time.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <nlohmann/json.hpp>

#include "common/base/result.h"
#include "common/tls/certificate_store.h"
#include "common/tls/spiffe_id.h"

namespace ambit::ztunnel::identity {

// The CA API (istio.v1.auth.IstioCertificateService), as an interface for fakes.
class CaClient {
 public:
  virtual ~CaClient() = default;
  // PEM certificates, leaf first, the root last.
  virtual Result<std::vector<std::string>> sign(const std::string& csr_pem, const tls::Identity& identity,
                                                std::chrono::seconds ttl) = 0;
};

// gRPC CreateCertificate with a bearer token (the node's, from a file).
// `server_name`: the name ambitd's certificate carries ("" = the target's host).
std::unique_ptr<CaClient> makeGrpcCaClient(const std::string& target, bool use_tls, const std::string& root_pem,
                                           const std::string& server_name, std::string token);

struct ManagerOptions {
  std::chrono::seconds ttl{std::chrono::hours(24)};
  std::chrono::milliseconds retry_initial{std::chrono::seconds(1)};
  std::chrono::milliseconds retry_max{std::chrono::seconds(60)};
};

// When to refresh a certificate valid over [not_before, not_after]: at half-life.
tls::TimePoint refreshTime(tls::TimePoint not_before, tls::TimePoint not_after);

class Manager {
 public:
  Manager(std::unique_ptr<CaClient> ca, ManagerOptions options);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  void start();
  void stop();

  // The identities wanted now (the local workloads'): new ones are fetched at
  // once, ones no longer wanted are forgotten (connections keep their bundle).
  void setWanted(const std::set<std::string>& spiffe_ids);
  // The store for an identity; empty until its first certificate arrives.
  std::shared_ptr<tls::CertificateStore> store(const tls::Identity& id);
  // Waits (asynchronously, on the caller's executor) until `id` has a
  // certificate or `timeout` passes. True when there is one.
  boost::asio::awaitable<bool> ready(const tls::Identity& id, std::chrono::milliseconds timeout);

  nlohmann::json dump() const;

 private:
  struct Entry {
    tls::Identity identity;
    std::shared_ptr<tls::CertificateStore> store = std::make_shared<tls::CertificateStore>();
    tls::TimePoint due{};  // next fetch
    unsigned failures = 0;
    std::string last_error;
    // Connections waiting for the first certificate: their timers, cancelled
    // (on their own executors) when it arrives. Expired ones are pruned.
    std::vector<std::pair<std::weak_ptr<boost::asio::steady_timer>, boost::asio::any_io_executor>> waiters;
    bool wanted = false;
  };

  void run();
  void fetch(const std::string& key);
  Entry& entry(const tls::Identity& id);  // mu_ held

  std::unique_ptr<CaClient> ca_;
  ManagerOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> entries_;  // by SPIFFE id
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ambit::ztunnel::identity
