#include "waypoint/http/request_body.h"

#include <algorithm>

namespace ambit::waypoint::http {

RequestBody::RequestBody(std::string whole) : kept_(std::move(whole)), received_(kept_.size()) {}

RequestBody::RequestBody(asio::any_io_executor ex, std::string first, std::unique_ptr<BodySource> source,
                         std::size_t keep, std::optional<uint64_t> length, std::shared_ptr<KeepBudget> budget)
    : kept_(std::move(first)),
      received_(kept_.size()),
      keep_(keep),
      declared_(length),
      ended_(false),
      source_(std::move(source)),
      budget_(std::move(budget)),
      arrived_(std::in_place, ex) {
  if (budget_) budget_->used += kept_.size();
}

RequestBody::~RequestBody() {
  if (budget_) budget_->used -= std::min(budget_->used, kept_.size());
}

std::optional<uint64_t> RequestBody::length() const {
  if (ended_ && !failed_) return received_;
  return declared_;
}

std::string_view RequestBody::from(uint64_t at) const {
  if (at < base_ || at >= received_) return {};
  return std::string_view(kept_).substr(static_cast<std::size_t>(at - base_));
}

asio::awaitable<void> RequestBody::wait(uint64_t at) {
  // Each round reads once or waits for the read under way: bounded by the
  // client's bytes and the stream's life (a closed stream fails the read).
  for (uint64_t round = 0; received_ <= at && !ended_ && !failed_; ++round) {
    if (reading_) {
      co_await arrived_->wait();
      continue;
    }
    reading_ = true;
    // A sender may let bytes go from the front while this read waits (sent()).
    const uint64_t before = base_ + kept_.size();
    bool end = false;
    bool ok = false;
    try {
      ok = co_await source_->read(kept_, end);  // appends in place
    } catch (const std::exception&) {
      ok = false;
    }
    reading_ = false;
    const auto got = static_cast<std::size_t>(base_ + kept_.size() - before);
    if (budget_) budget_->used += got;
    received_ += got;
    if (!ok) {
      failed_ = true;
    } else if (end) {
      ended_ = true;
    }
    arrived_->notify();
  }
}

void RequestBody::sent(uint64_t at) {
  bool over = received_ > keep_ || (budget_ && budget_->used > budget_->cap);
  if (!over || at <= base_) return;
  auto drop = static_cast<std::size_t>(std::min<uint64_t>(at, received_) - base_);
  kept_.erase(0, drop);
  base_ += drop;
  if (budget_) budget_->used -= std::min(budget_->used, drop);
}

}  // namespace ambit::waypoint::http
