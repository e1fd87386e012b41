#include "common/xds/delta_client.h"
#include "common/xds/digest.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "common/log/log.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"

namespace ambit::xds {

namespace ads = envoy::service::discovery::v3;

std::chrono::milliseconds backoffDelay(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                                       unsigned attempt, double unit) {
  double cap = static_cast<double>(max.count());
  double ceiling = std::min(cap, static_cast<double>(initial.count()) * std::ldexp(1.0, static_cast<int>(std::min(attempt, 30u))));
  auto ms = static_cast<int64_t>(std::clamp(unit, 0.0, 1.0) * ceiling);
  return std::chrono::milliseconds(std::max<int64_t>(ms, 10));
}

DeltaClient::DeltaClient(ClientOptions options, std::vector<TypeHandler*> handlers) : options_(std::move(options)) {
  for (auto* h : handlers) types_[h->typeUrl()].handler = h;
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetMaxReceiveMessageSize(64 << 20);
  // Our own backoff decides when to retry; keep gRPC's reconnects prompt.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  if (!options_.tls_server_name.empty()) args.SetSslTargetNameOverride(options_.tls_server_name);
  channel_ = grpc::CreateCustomChannel(options_.target, options_.credentials, args);
}

DeltaClient::~DeltaClient() { stop(); }

void DeltaClient::start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
}

void DeltaClient::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (ctx_ != nullptr) ctx_->TryCancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DeltaClient::run() {
  auto logger = log::scope("xds.client");
  std::mt19937_64 rng(std::random_device{}());
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  unsigned attempt = 0;
  for (;;) {
    bool progressed = runStream();
    std::unique_lock lock(mu_);
    if (stopping_) return;
    if (progressed) attempt = 0;
    auto delay = backoffDelay(options_.initial_backoff, options_.max_backoff, attempt++, unit(rng));
    log::warn(*logger, "xds_disconnected", "target", options_.target, "error", last_error_, "retry_in_ms",
              delay.count(), "keeping", "last good config");
    if (cv_.wait_for(lock, delay, [&] { return stopping_; })) return;
    ++reconnects_;
  }
}

bool DeltaClient::runStream() {
  auto logger = log::scope("xds.client");
  grpc::ClientContext ctx;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    ctx_ = &ctx;
  }
  auto stub = ads::AggregatedDiscoveryService::NewStub(channel_);
  auto stream = stub->DeltaAggregatedResources(&ctx);
  bool first = true;
  bool ok = true;
  for (auto& [url, t] : types_) {
    ads::DeltaDiscoveryRequest req;
    if (first) *req.mutable_node() = options_.node;
    first = false;
    req.set_type_url(url);
    req.add_resource_names_subscribe("*");
    {
      std::lock_guard lock(mu_);
      for (const auto& [name, version] : t.versions) (*req.mutable_initial_resource_versions())[name] = version;
    }
    if (!stream->Write(req)) {
      ok = false;
      break;
    }
  }
  bool got_any = false;
  ads::DeltaDiscoveryResponse resp;
  while (ok && stream->Read(&resp)) {
    if (!got_any) log::info(*logger, "xds_connected", "target", options_.target);
    connected_ = true;
    got_any = true;
    ads::DeltaDiscoveryRequest reply;
    handle(resp, reply);
    if (!stream->Write(reply)) break;
  }
  connected_ = false;
  grpc::Status status = stream->Finish();
  std::lock_guard lock(mu_);
  ctx_ = nullptr;
  last_error_ = status.ok() ? "stream closed by the server" : status.error_message();
  if (last_error_.empty()) last_error_ = "stream ended (code " + std::to_string(status.error_code()) + ")";
  return got_any;
}

void DeltaClient::handle(const ads::DeltaDiscoveryResponse& resp, ads::DeltaDiscoveryRequest& reply) {
  auto logger = log::scope("xds.client");
  reply.set_type_url(resp.type_url());
  reply.set_response_nonce(resp.nonce());
  auto it = types_.find(resp.type_url());
  if (it == types_.end()) {
    // Not ours (we never asked for it): ACK so the server does not resend it.
    return;
  }
  TypeState& t = it->second;
  std::vector<const Resource*> updated;
  updated.reserve(static_cast<std::size_t>(resp.resources_size()));
  for (const auto& r : resp.resources()) updated.push_back(&r);
  std::vector<std::string> removed(resp.removed_resources().begin(), resp.removed_resources().end());
  Status st = t.handler->apply(updated, removed);

  std::lock_guard lock(mu_);
  t.last_nonce = resp.nonce();
  if (!st) {
    ++t.nacks;
    t.last_nack = st.error().message;
    reply.mutable_error_detail()->set_code(grpc::StatusCode::INVALID_ARGUMENT);
    reply.mutable_error_detail()->set_message(st.error().message);
    log::warn(*logger, "xds_nack", "type", resp.type_url(), "nonce", resp.nonce(), "error", st.error().message,
              "keeping", "last good config");
    return;
  }
  ++t.acks;
  for (const auto& r : resp.resources()) t.versions[r.name()] = r.version();
  for (const auto& name : removed) t.versions.erase(name);
  t.got_first = true;
  log::info(*logger, "xds_applied", "type", resp.type_url(), "updated", updated.size(), "removed", removed.size(),
             "held", t.versions.size());
  if (!synced_) {
    synced_ = std::all_of(types_.begin(), types_.end(), [](const auto& kv) { return kv.second.got_first; });
  }
}

nlohmann::json DeltaClient::dump() const {
  std::lock_guard lock(mu_);
  nlohmann::json out{{"target", options_.target},
                     {"connected", connected_.load()},
                     {"synced", synced_.load()},
                     {"reconnects", reconnects_},
                     {"last_error", last_error_}};
  for (const auto& [url, t] : types_) {
    out["types"][url] = {{"resources", t.versions.size()}, {"acks", t.acks},       {"nacks", t.nacks},
                         {"last_nonce", t.last_nonce},     {"last_nack", t.last_nack},
                       {"digest", resourceDigest(t.versions)}};
  }
  return out;
}

}  // namespace ambit::xds
