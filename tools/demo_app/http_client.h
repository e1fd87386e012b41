// The demo app's HTTP/1.1 client (Boost.Beast): one GET with a timeout, as a
// coroutine (the server's upstream call) or blocking (the `get`/`load` tools).
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>

namespace ambit::demo {

struct Url {
  std::string host, port, target;
};
// http://host[:port][/path]; nullopt when it is not one.
std::optional<Url> parseUrl(const std::string& url);

struct Response {
  int status = 0;
  std::string body;
  std::string version;  // the x-ambit-version header of the answer
  std::string error;    // empty when an HTTP answer arrived
};

// A GET on a new connection (Connection: close).
boost::asio::awaitable<Response> asyncGet(boost::asio::any_io_executor ex, const std::string& url,
                                          std::chrono::milliseconds timeout);

// Blocking GETs to one URL; with `reuse` they share one keep-alive connection
// (a broken one is an error, not silently replaced).
class SyncClient {
 public:
  SyncClient(const std::string& url, std::chrono::milliseconds timeout, bool reuse);
  Response get();

 private:
  boost::asio::io_context io_{1};
  std::optional<Url> url_;
  std::string raw_url_;
  std::chrono::milliseconds timeout_;
  bool reuse_;
  std::optional<boost::beast::tcp_stream> stream_;
};

}  // namespace ambit::demo
