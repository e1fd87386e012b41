// A small HTTP/1.1 server (Boost.Beast) for admin, stats and readiness. It runs on
// a thread of its own so a scrape or a config dump never adds data-path latency.
// One server can listen on several endpoints, each exposing a subset of paths:
// e.g. everything on 127.0.0.1:15000, /stats/prometheus on :15020, readiness on :15021.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "common/base/result.h"

namespace ambit::admin {

namespace asio = boost::asio;

struct Request {
  std::string method;                        // "GET", "POST", ...
  std::string path;                          // without the query
  std::map<std::string, std::string> query;  // decoded; a repeated key keeps the last
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using Handler = std::function<Response(const Request&)>;

struct AdminLimits {
  std::size_t max_connections = 64;  // per endpoint
  std::size_t max_body_bytes = 64 * 1024;
  std::size_t max_header_bytes = 16 * 1024;
  std::chrono::seconds idle_timeout{30};
};

class AdminServer {
 public:
  explicit AdminServer(AdminLimits limits = {});
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Adds a route before start(). `methods` lists what it accepts (e.g. {"GET"}).
  void route(std::string path, std::vector<std::string> methods, std::string help, Handler handler);

  // Binds an endpoint serving `paths` (all routes when empty); returns the bound
  // endpoint (port 0 picks one). Call before start().
  Result<asio::ip::tcp::endpoint> listen(const asio::ip::tcp::endpoint& endpoint,
                                         std::vector<std::string> paths = {});

  void start();
  void stop();

  // Dispatches one request as the server would (also used by tests).
  Response handle(const Request& req, const std::vector<std::string>& allowed_paths) const;
  // "path — help" lines, for the index page.
  std::string index() const;

 private:
  struct Route {
    std::vector<std::string> methods;
    std::string help;
    Handler handler;
  };
  struct Endpoint;
  struct Session;

  AdminLimits limits_;
  std::map<std::string, Route> routes_;
  asio::io_context ctx_{1};
  std::vector<std::shared_ptr<Endpoint>> endpoints_;
  std::thread thread_;
  bool started_ = false;
};

// Splits "a=1&b=x%20y" into decoded pairs.
std::map<std::string, std::string> parseQuery(std::string_view query);
std::string percentDecode(std::string_view s);

}  // namespace ambit::admin
