#include "tools/demo_app/http_client.h"

#include <regex>

#include <boost/asio.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace ambit::demo {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::use_awaitable;
using asio::ip::tcp;

std::optional<Url> parseUrl(const std::string& url) {
  static const std::regex kUrl(R"(^http://(\[[0-9a-fA-F:.]+\]|[^/:\[\]]+)(?::([0-9]{1,5}))?(/.*)?$)");
  std::smatch m;
  if (!std::regex_match(url, m, kUrl)) return std::nullopt;
  Url u;
  u.host = m[1].str();
  if (u.host.front() == '[') u.host = u.host.substr(1, u.host.size() - 2);
  u.port = m[2].matched ? m[2].str() : "80";
  u.target = m[3].matched ? m[3].str() : "/";
  return u;
}

namespace {

// Connects (when `stream` is not open) and does one request/response.
asio::awaitable<Response> exchange(beast::tcp_stream& stream, const Url& u, bool keep_alive,
                                   std::chrono::milliseconds timeout) {
  Response r;
  stream.expires_after(timeout);
  if (!stream.socket().is_open()) {
    tcp::resolver resolver(stream.get_executor());
    auto [rec, results] = co_await resolver.async_resolve(u.host, u.port, asio::as_tuple(use_awaitable));
    if (rec) {
      r.error = "resolve " + u.host + ": " + rec.message();
      co_return r;
    }
    auto [cec, ep] = co_await stream.async_connect(results, asio::as_tuple(use_awaitable));
    if (cec) {
      r.error = "connect " + u.host + ":" + u.port + ": " + cec.message();
      co_return r;
    }
  }
  http::request<http::empty_body> req(http::verb::get, u.target, 11);
  req.set(http::field::host, u.port == "80" ? u.host : u.host + ":" + u.port);
  req.set(http::field::user_agent, "ambit-demo-app");
  req.keep_alive(keep_alive);
  auto [wec, w] = co_await http::async_write(stream, req, asio::as_tuple(use_awaitable));
  if (wec) {
    r.error = "send: " + wec.message();
    co_return r;
  }
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  auto [rdec, n] = co_await http::async_read(stream, buf, res, asio::as_tuple(use_awaitable));
  if (rdec) {
    r.error = "response: " + rdec.message();
    co_return r;
  }
  r.status = static_cast<int>(res.result_int());
  r.body = std::move(res.body());
  r.version = std::string(res["x-ambit-version"]);
  if (!keep_alive || !res.keep_alive()) {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.close();
  }
  co_return r;
}

}  // namespace

asio::awaitable<Response> asyncGet(asio::any_io_executor ex, const std::string& url,
                                   std::chrono::milliseconds timeout) {
  auto u = parseUrl(url);
  if (!u) co_return Response{.error = "not an http:// URL: " + url};
  beast::tcp_stream stream(ex);
  co_return co_await exchange(stream, *u, false, timeout);
}

SyncClient::SyncClient(const std::string& url, std::chrono::milliseconds timeout, bool reuse)
    : url_(parseUrl(url)), raw_url_(url), timeout_(timeout), reuse_(reuse) {}

Response SyncClient::get() {
  if (!url_) return Response{.error = "not an http:// URL: " + raw_url_};
  if (!stream_) stream_.emplace(io_);
  Response out;
  asio::co_spawn(io_, exchange(*stream_, *url_, reuse_, timeout_),
                 [&out](std::exception_ptr e, Response r) {
                   out = e ? Response{.error = "internal error"} : std::move(r);
                 });
  io_.restart();
  io_.run();
  if (reuse_ && !out.error.empty()) {
    // A reused connection that broke is reported once; the next get() connects anew.
    beast::error_code ignored;
    stream_->socket().close(ignored);
  }
  if (!reuse_) stream_.reset();
  return out;
}

}  // namespace ambit::demo
