#include "ztunnel/identity/manager.h"

#include <algorithm>
#include <random>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <grpcpp/grpcpp.h>

#include "common/log/log.h"
#include "common/xds/delta_client.h"
#include "istio/security/ca.grpc.pb.h"

namespace ambit::ztunnel::identity {

namespace asio = boost::asio;

namespace {

class GrpcCaClient : public CaClient {
 public:
  GrpcCaClient(std::shared_ptr<grpc::Channel> channel, std::string token)
      : stub_(istio::v1::auth::IstioCertificateService::NewStub(channel)), token_(std::move(token)) {}

  Result<std::vector<std::string>> sign(const std::string& csr_pem, const tls::Identity& identity,
                                        std::chrono::seconds ttl) override {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ctx.AddMetadata("authorization", "Bearer " + token_);
    istio::v1::auth::IstioCertificateRequest req;
    req.set_csr(csr_pem);
    req.set_validity_duration(ttl.count());
    (*req.mutable_metadata()->mutable_fields())["ImpersonatedIdentity"].set_string_value(identity.toString());
    istio::v1::auth::IstioCertificateResponse resp;
    grpc::Status st = stub_->CreateCertificate(&ctx, req, &resp);
    if (!st.ok()) {
      return makeError(st.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
                               st.error_code() == grpc::StatusCode::PERMISSION_DENIED
                           ? ErrorCode::kPermissionDenied
                           : ErrorCode::kUnavailable,
                       "CA: {} (code {})", st.error_message(), static_cast<int>(st.error_code()));
    }
    return std::vector<std::string>(resp.cert_chain().begin(), resp.cert_chain().end());
  }

 private:
  std::unique_ptr<istio::v1::auth::IstioCertificateService::Stub> stub_;
  std::string token_;
};

// Key, CSR, CA call, and a checked bundle: the chain ends with the root, which
// becomes the trust bundle peers are verified against.
Result<std::shared_ptr<const tls::CertBundle>> obtain(CaClient& ca, const tls::Identity& id, std::chrono::seconds ttl) {
  auto key = tls::generateEcKey();
  if (!key) return key.error();
  auto csr = tls::createCsr(key->get(), {id.toString()});
  if (!csr) return csr.error();
  auto chain = ca.sign(tls::toPem(csr->get()), id, ttl);
  if (!chain) return chain.error();
  if (chain->size() < 2) return makeError(ErrorCode::kInvalidArgument, "CA answered without a root certificate");
  std::string leaf_and_intermediates;
  for (std::size_t i = 0; i + 1 < chain->size(); ++i) leaf_and_intermediates += (*chain)[i];
  auto certs = tls::parsePemCertificates(leaf_and_intermediates);
  if (!certs) return certs.error().wrap("CA certificate chain");
  auto roots = tls::TrustBundle::fromPem(chain->back());
  if (!roots) return roots.error().wrap("CA root");
  auto bundle = tls::CertBundle::fromParts(std::move(*key), std::move(*certs), std::move(*roots));
  if (!bundle) return bundle.error();
  if ((*bundle)->identity != id) {
    return makeError(ErrorCode::kPermissionDenied, "CA issued {} instead of {}", (*bundle)->identity.toString(),
                     id.toString());
  }
  return bundle;
}

}  // namespace

std::unique_ptr<CaClient> makeGrpcCaClient(const std::string& target, bool use_tls, const std::string& root_pem,
                                           const std::string& server_name, std::string token) {
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (use_tls) {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = root_pem;
    creds = grpc::SslCredentials(o);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  if (!server_name.empty()) args.SetSslTargetNameOverride(server_name);
  return std::make_unique<GrpcCaClient>(grpc::CreateCustomChannel(target, creds, args), std::move(token));
}

tls::TimePoint refreshTime(tls::TimePoint not_before, tls::TimePoint not_after) {
  if (not_after <= not_before) return not_before;
  return not_before + (not_after - not_before) / 2;
}

Manager::Manager(std::unique_ptr<CaClient> ca, ManagerOptions options) : ca_(std::move(ca)), options_(options) {}

Manager::~Manager() { stop(); }

void Manager::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void Manager::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Manager::Entry& Manager::entry(const tls::Identity& id) {
  auto key = id.toString();
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    it = entries_.emplace(key, Entry{}).first;
    it->second.identity = id;
    it->second.due = std::chrono::system_clock::now();
    cv_.notify_all();
  }
  it->second.wanted = true;
  return it->second;
}

void Manager::setWanted(const std::set<std::string>& spiffe_ids) {
  std::lock_guard lock(mu_);
  for (auto& [key, e] : entries_) e.wanted = spiffe_ids.count(key) > 0;
  for (const auto& s : spiffe_ids) {
    if (entries_.count(s)) continue;
    auto id = tls::parseIdentity(s);
    if (id) entry(*id);
  }
  std::erase_if(entries_, [](const auto& kv) { return !kv.second.wanted && kv.second.waiters.empty(); });
  cv_.notify_all();
}

std::shared_ptr<tls::CertificateStore> Manager::store(const tls::Identity& id) {
  std::lock_guard lock(mu_);
  return entry(id).store;
}

asio::awaitable<bool> Manager::ready(const tls::Identity& id, std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  std::shared_ptr<asio::steady_timer> timer;  // only when there is something to wait for
  std::shared_ptr<tls::CertificateStore> store;
  {
    std::lock_guard lock(mu_);
    Entry& e = entry(id);
    store = e.store;
    if (store->current() != nullptr) co_return true;
    timer = std::make_shared<asio::steady_timer>(ex, timeout);
    std::erase_if(e.waiters, [](const auto& w) { return w.first.expired(); });  // waits that timed out
    e.waiters.emplace_back(timer, ex);
  }
  co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
  co_return store->current() != nullptr;
}

void Manager::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto next = std::min_element(entries_.begin(), entries_.end(),
                                 [](const auto& a, const auto& b) { return a.second.due < b.second.due; });
    if (next == entries_.end()) {
      cv_.wait(lock);
      continue;
    }
    if (next->second.due > std::chrono::system_clock::now()) {
      cv_.wait_until(lock, next->second.due);
      continue;
    }
    std::string key = next->first;
    // Not due again until this fetch reports (a failure reschedules it).
    next->second.due = tls::TimePoint::max();
    lock.unlock();
    fetch(key);
    lock.lock();
  }
}

void Manager::fetch(const std::string& key) {
  auto logger = log::scope("ztunnel.identity");
  tls::Identity id;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    id = it->second.identity;
  }
  auto bundle = obtain(*ca_, id, options_.ttl);
  std::vector<std::pair<std::weak_ptr<asio::steady_timer>, asio::any_io_executor>> waiters;
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return;
    Entry& e = it->second;
    if (bundle) {
      e.store->update(*bundle);
      // Half-life, but never sooner than the retry delay: certificate times
      // have whole seconds, and a skewed CA clock must not cause a refresh loop.
      e.due = std::max(refreshTime((*bundle)->not_before, (*bundle)->not_after),
                       std::chrono::system_clock::now() + options_.retry_initial);
      e.failures = 0;
      e.last_error.clear();
      waiters.swap(e.waiters);
      log::info(*logger, "certificate_ready", "identity", key, "expires", tls::formatTime((*bundle)->not_after),
                "refresh_at", tls::formatTime(e.due));
    } else {
      static thread_local std::mt19937_64 rng(std::random_device{}());
      double unit = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
      auto delay = xds::backoffDelay(options_.retry_initial, options_.retry_max, e.failures++, unit);
      e.due = std::chrono::system_clock::now() + delay;
      e.last_error = bundle.error().message;
      auto current = e.store->current();
      log::warn(*logger, "certificate_failed", "identity", key, "error", e.last_error, "retry_in_ms", delay.count(),
                "keeping", current ? "previous certificate until " + tls::formatTime(current->not_after) : "none");
    }
  }
  for (auto& [weak, ex] : waiters) {
    asio::post(ex, [weak] {
      if (auto t = weak.lock()) t->cancel();
    });
  }
}

nlohmann::json Manager::dump() const {
  std::lock_guard lock(mu_);
  auto out = nlohmann::json::array();
  for (const auto& [key, e] : entries_) {
    auto b = e.store->current();
    nlohmann::json j{{"identity", key}, {"state", b ? "ready" : "pending"}};
    if (b) {
      j["expires"] = tls::formatTime(b->not_after);
      j["expired"] = b->not_after <= std::chrono::system_clock::now();
    }
    if (e.due != tls::TimePoint::max()) j["next_fetch"] = tls::formatTime(e.due);
    if (!e.last_error.empty()) j["last_error"] = e.last_error;
    out.push_back(std::move(j));
  }
  return out;
}

}  // namespace ambit::ztunnel::identity
