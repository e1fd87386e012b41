#include "waypoint/trace/zipkin.h"

#include <optional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <fmt/format.h>

#include "common/log/log.h"

namespace ambit::waypoint::trace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// "host:port" / "[v6]:port" into its parts; nullopt when it is neither.
std::optional<std::pair<std::string, std::string>> splitAddress(const std::string& a) {
  auto colon = a.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == a.size()) return std::nullopt;
  std::string host = a.substr(0, colon);
  if (host.front() == '[') {
    if (host.back() != ']') return std::nullopt;
    host = host.substr(1, host.size() - 2);
  }
  return std::pair{host, a.substr(colon + 1)};
}

}  // namespace

struct Connection {
  asio::io_context ioc;
  std::optional<beast::tcp_stream> stream;
};

ZipkinExporter::ZipkinExporter(ZipkinOptions options) : options_(std::move(options)) {
  thread_ = std::thread([this] { run(); });
}

ZipkinExporter::~ZipkinExporter() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ZipkinExporter::submit(Span span) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queue_.size() >= options_.max_queue) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    queue_.push_back(std::move(span));
  }
}

nlohmann::json ZipkinExporter::dump() const {
  std::lock_guard lock(mu_);
  return {{"collector", options_.address + options_.path},
          {"queued", queue_.size()},
          {"sent", sent_.load()},
          {"dropped", dropped_.load()},
          {"failed", failed_.load()},
          {"last_error", last_error_}};
}

void ZipkinExporter::run() {
  static auto logger = log::scope("waypoint.trace");
  Connection conn;
  conn_ = &conn;
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait_for(lock, options_.flush_interval, [&] { return stopping_; });
    // Everything queued, in batches (each bounded by the timeout).
    for (std::size_t batches = 0; !queue_.empty() && batches < options_.max_queue; ++batches) {
      auto n = std::min(queue_.size(), options_.max_batch);
      std::vector<Span> batch(std::make_move_iterator(queue_.begin()),
                              std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(n)));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      lock.unlock();
      auto error = post(zipkinJson(batch));
      lock.lock();
      if (error.empty()) {
        sent_.fetch_add(n, std::memory_order_relaxed);
        continue;
      }
      failed_.fetch_add(n, std::memory_order_relaxed);
      if (error != last_error_) log::warn(*logger, "zipkin_export_failed", "collector", options_.address, "error", error);
      last_error_ = error;
      if (stopping_) break;
    }
    if (stopping_) break;
  }
  conn_ = nullptr;
}

std::string ZipkinExporter::post(const std::string& body) {
  auto target = splitAddress(options_.address);
  if (!target) return "the collector address is not host:port: " + options_.address;
  Connection& c = *conn_;
  std::string error;
  // A kept-alive connection the collector closed meanwhile fails at once: then once more on a new one.
  for (int round = 0; round < 2; ++round) {
    bool reused = c.stream.has_value();
    bool io_failed = false;
    error.clear();
    asio::co_spawn(
        c.ioc,
        [&]() -> asio::awaitable<void> {
          if (!c.stream) {
            asio::ip::tcp::resolver resolver(c.ioc);
            auto [rec, results] =
                co_await resolver.async_resolve(target->first, target->second, asio::as_tuple(asio::use_awaitable));
            if (rec) {
              error = fmt::format("resolve {}: {}", options_.address, rec.message());
              co_return;
            }
            c.stream.emplace(c.ioc);
            c.stream->expires_after(options_.timeout);
            auto [cec, ep] = co_await c.stream->async_connect(results, asio::as_tuple(asio::use_awaitable));
            if (cec) {
              error = fmt::format("connect {}: {}", options_.address, cec.message());
              c.stream.reset();
              co_return;
            }
          }
          http::request<http::string_body> req{http::verb::post, options_.path, 11};
          req.set(http::field::host, options_.address);
          req.set(http::field::content_type, "application/json");
          req.keep_alive(true);
          req.body() = body;
          req.prepare_payload();
          c.stream->expires_after(options_.timeout);
          auto [wec, wn] = co_await http::async_write(*c.stream, req, asio::as_tuple(asio::use_awaitable));
          beast::flat_buffer buf;
          http::response<http::string_body> res;
          boost::system::error_code ec = wec;
          if (!ec) {
            auto [rec2, rn] = co_await http::async_read(*c.stream, buf, res, asio::as_tuple(asio::use_awaitable));
            ec = rec2;
          }
          if (ec) {
            error = fmt::format("POST {}{}: {}", options_.address, options_.path, ec.message());
            c.stream.reset();
            io_failed = true;
            co_return;
          }
          if (res.result_int() / 100 != 2) error = fmt::format("the collector answered {}", res.result_int());
          if (!res.keep_alive()) c.stream.reset();
        },
        asio::detached);
    c.ioc.restart();
    c.ioc.run();
    if (error.empty() || !reused || !io_failed) break;
  }
  return error;
}

}  // namespace ambit::waypoint::trace
