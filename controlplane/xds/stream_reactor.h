// The life of one ADS stream, shared by the delta and state-of-the-world
// protocols: read requests, write one response at a time (built when the
// previous write finishes, so bursts of updates coalesce), finish exactly once,
// and stop touching gRPC after OnDone. Subclasses only say what a request
// means and what to send next.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "common/log/log.h"
#include "controlplane/xds/server.h"

namespace ambit::controlplane::xds {

template <typename Req, typename Resp>
class StreamReactor : public grpc::ServerBidiReactor<Req, Resp>, public Stream {
 public:
  StreamReactor(XdsServer& server, grpc::CallbackServerContext* ctx, const char* protocol)
      : server_(server), latest_(server.current()), peer_(ctx->peer()), protocol_(protocol) {}

  // Called once, after the server holds a reference (see XdsServer::add).
  void start() { this->StartRead(&req_); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      finish(grpc::Status::OK);
      return;
    }
    std::shared_ptr<const ResourceSet> set = server_.current();
    bool abusive = false;
    bool keep_reading = true;
    {
      std::lock_guard lock(mu_);
      // notify() may already have delivered a newer set: never go back.
      if (set && (!latest_ || set->version >= latest_->version)) latest_ = set;
      if (node_id_.empty() && req_.has_node()) {
        node_id_ = req_.node().id();
        log::info(*log::scope("ambitd.xds"), "xds_stream_opened", "peer", peer_, "node", node_id_, "protocol",
                  protocol_);
      }
      abusive = !tracksType(req_.type_url()) && typeCount() >= kMaxTypes;
      if (abusive) {
        log::warn(*log::scope("ambitd.xds"), "xds_too_many_types", "node", node_id_, "limit", kMaxTypes);
      } else {
        handleRequestLocked(req_);
      }
      keep_reading = !abusive && !finishing_;
    }
    req_.Clear();
    if (abusive) {
      finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "too many type URLs on one stream"));
      return;
    }
    if (!keep_reading) {
      finish(grpc::Status::OK);
      return;
    }
    this->StartRead(&req_);
    maybeWrite();
  }

  void OnWriteDone(bool ok) override {
    bool finish_now = false;
    {
      std::lock_guard lock(mu_);
      writing_ = false;
      if (!ok) finishing_ = true;
      finish_now = finishing_;
    }
    if (finish_now) finish(grpc::Status::OK);  // keeps a status recorded earlier
    else maybeWrite();
  }

  void OnDone() override {
    std::string node;
    {
      std::lock_guard lock(mu_);
      done_ = true;
      node = node_id_;
    }
    log::info(*log::scope("ambitd.xds"), "xds_stream_closed", "peer", peer_, "node", node, "protocol", protocol_);
    server_.remove(this);  // may destroy this stream: nothing after it
  }

  void notify(std::shared_ptr<const ResourceSet> set) override {
    {
      std::lock_guard lock(mu_);
      latest_ = std::move(set);
    }
    maybeWrite();
  }

  nlohmann::json dump() const override {
    std::lock_guard lock(mu_);
    nlohmann::json out = dumpLocked();
    out["protocol"] = protocol_;
    out["peer"] = peer_;
    out["node"] = node_id_;
    return out;
  }

 protected:
  // All four run with the stream's lock held.
  virtual void handleRequestLocked(const Req& req) = 0;
  // Fills `resp` with the next response; false when there is nothing to send.
  // latest_ is set when it is called.
  virtual bool buildResponseLocked(Resp& resp) = 0;
  virtual nlohmann::json dumpLocked() const = 0;
  // Whether a type URL already has state, and how many have (bounds abuse).
  virtual bool tracksType(const std::string& type_url) const = 0;
  virtual std::size_t typeCount() const = 0;

  static constexpr std::size_t kMaxTypes = 16;
  XdsServer& server_;
  std::string node_id_;
  std::shared_ptr<const ResourceSet> latest_;

 private:
  void maybeWrite() {
    {
      std::lock_guard lock(mu_);
      if (writing_ || finishing_ || done_ || !latest_) return;
      resp_.Clear();
      if (!buildResponseLocked(resp_)) return;
      writing_ = true;
    }
    this->StartWrite(&resp_);
  }

  // The first status given wins, also when the Finish itself waits for a write.
  void finish(grpc::Status status) {
    grpc::Status final_status;
    {
      std::lock_guard lock(mu_);
      if (!finishing_) finish_status_ = status;
      finishing_ = true;
      if (writing_ || finished_) return;  // OnWriteDone finishes
      finished_ = true;
      final_status = finish_status_;
    }
    this->Finish(final_status);
  }

  const std::string peer_;
  const char* protocol_;
  Req req_;
  Resp resp_;
  mutable std::mutex mu_;
  bool writing_ = false;
  bool finishing_ = false;
  bool finished_ = false;
  bool done_ = false;  // OnDone ran: gRPC is finished with this reactor
  grpc::Status finish_status_;
};

// Creates a stream the server holds until OnDone, and starts it.
template <typename S>
S* startStream(XdsServer& server, grpc::CallbackServerContext* ctx) {
  auto stream = std::make_shared<S>(server, ctx);
  server.add(stream);
  stream->start();
  return stream.get();
}

}  // namespace ambit::controlplane::xds
