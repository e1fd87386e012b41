// A request body as it streams from the client to the upstream. The request
// goes upstream once its head is in; its body follows as it arrives (gRPC
// client-streaming and bidirectional calls, large uploads), read from the
// client only as fast as the upstream takes it (the client's flow-control
// window is the backpressure).
//
// Up to `keep` bytes stay here after they were sent, so that a retry (or a
// refused stream sent again) can send the body once more from the start and
// a mirror can copy it once it has ended. Beyond that the bytes an attempt
// sent are let go: the body is then no longer replayable, and the request is
// not retried (as Envoy, whose retry buffer is bounded the same way).
//
// One attempt sends the body at a time; an attempt that was given up may
// still be waiting for the client's next bytes, so reads from the source are
// single-flight and every waiter wakes when they come.
//
// Single-threaded: use it on one executor.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "common/runtime/event.h"

namespace ambit::waypoint::http {

namespace asio = boost::asio;

// What one connection's bodies may keep for resending, all together (its
// streams run side by side): past it, sent bytes are let go as past `keep`.
struct KeepBudget {
  explicit KeepBudget(std::size_t c) : cap(c) {}
  std::size_t cap;
  std::size_t used = 0;
};

// Where the rest of a body comes from (an HTTP/2 client's stream).
class BodySource {
 public:
  virtual ~BodySource() = default;
  // Appends the next bytes to `out` (waits for them); `end` once the body is
  // over. false when the rest cannot be had (the client reset the stream, or
  // its connection ended).
  virtual asio::awaitable<bool> read(std::string& out, bool& end) = 0;
};

class RequestBody {
 public:
  // A body that is already whole (HTTP/1.1 requests, a mirror's copy).
  explicit RequestBody(std::string whole);
  // A body still arriving: `first` is here, the rest comes from `source`.
  // `length`: what the client declared (content-length), if it did.
  // `budget`: shared with the connection's other bodies (may be null).
  RequestBody(asio::any_io_executor ex, std::string first, std::unique_ptr<BodySource> source, std::size_t keep,
              std::optional<uint64_t> length, std::shared_ptr<KeepBudget> budget = nullptr);
  ~RequestBody();
  RequestBody(const RequestBody&) = delete;
  RequestBody& operator=(const RequestBody&) = delete;

  bool ended() const { return ended_; }
  // The client went away before the body ended.
  bool failed() const { return failed_; }
  // Bytes received so far.
  uint64_t received() const { return received_; }
  // The length the client declared, or the whole body's once it ended.
  std::optional<uint64_t> length() const;
  // Every byte since the first is still here: the body can be sent again.
  bool replayable() const { return base_ == 0; }
  // The bytes from offset `at` (of the whole body) that are here. `at` must
  // not be below what was let go (never, for a sender that started at 0 on a
  // replayable body).
  std::string_view from(uint64_t at) const;
  // The whole body (ended and replayable).
  const std::string& whole() const { return kept_; }
  // Returns once there are bytes beyond `at`, or the body ended or failed:
  // reads the source when no read is under way, else waits for that one.
  asio::awaitable<void> wait(uint64_t at);
  // The attempt under way sent everything before `at`: past the keep limit
  // (or the connection's budget), those bytes are let go.
  void sent(uint64_t at);

 private:
  std::string kept_;    // bytes [base_, received_)
  uint64_t base_ = 0;   // offset of kept_[0]
  uint64_t received_ = 0;
  std::size_t keep_ = 0;
  std::optional<uint64_t> declared_;
  bool ended_ = true;
  bool failed_ = false;
  bool reading_ = false;
  std::unique_ptr<BodySource> source_;
  std::shared_ptr<KeepBudget> budget_;
  std::optional<runtime::Event> arrived_;
};

}  // namespace ambit::waypoint::http
