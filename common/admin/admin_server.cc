// Beast sessions for the admin server: bounded headers, bodies, connections and idle time.
#include "common/admin/admin_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "common/base/percent.h"

#include "common/log/log.h"

namespace ambit::admin {

namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

struct AdminServer::Endpoint {
  tcp::acceptor acceptor;
  std::vector<std::string> paths;
  explicit Endpoint(asio::io_context& ctx) : acceptor(ctx) {}
};

namespace {

asio::awaitable<void> session(const AdminServer* server, tcp::socket socket, std::vector<std::string> paths,
                              AdminLimits limits, std::shared_ptr<std::size_t> connections) {
  struct Count {
    std::shared_ptr<std::size_t> n;
    ~Count() { --*n; }
  } count{connections};
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(limits.max_body_bytes);
    stream.expires_after(limits.idle_timeout);
    auto [ec, n] = co_await http::async_read(stream, buffer, parser, asio::as_tuple(asio::use_awaitable));
    (void)n;
    if (ec) break;  // closed, timed out, or malformed: an admin client gets no second chance
    auto& req = parser.get();

    Request r;
    r.method = std::string(req.method_string());
    std::string_view target(req.target().data(), req.target().size());
    auto qpos = target.find('?');
    r.path = std::string(target.substr(0, qpos));
    if (qpos != std::string_view::npos) r.query = parseQuery(target.substr(qpos + 1));
    r.body = req.body();

    Response resp = server->handle(r, paths);
    http::response<http::string_body> out{static_cast<http::status>(resp.status), req.version()};
    out.set(http::field::server, "ambit-admin");
    out.set(http::field::content_type, resp.content_type);
    for (const auto& [k, v] : resp.headers) out.set(k, v);
    out.keep_alive(req.keep_alive());
    if (req.method() == http::verb::head) {
      // HEAD: the length a GET would have, and no body (a body would corrupt keep-alive framing).
      out.content_length(resp.body.size());
    } else {
      out.body() = std::move(resp.body);
      out.prepare_payload();
    }
    stream.expires_after(limits.idle_timeout);
    auto [wec, wn] = co_await http::async_write(stream, out, asio::as_tuple(asio::use_awaitable));
    (void)wn;
    if (wec || !out.keep_alive()) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> acceptLoop(const AdminServer* server, std::shared_ptr<void> keep, tcp::acceptor& acceptor,
                                 std::vector<std::string> paths, AdminLimits limits,
                                 std::shared_ptr<std::size_t> connections) {
  auto logger = log::scope("admin");
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
    if (ec) {
      // Out of fds or memory: back off instead of spinning the admin thread.
      log::warn(*logger, "admin_accept_failed", "error", ec.message());
      asio::steady_timer t(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
      continue;
    }
    if (*connections >= limits.max_connections) {
      log::warn(*logger, "admin_connection_refused", "reason", "too many connections", "limit",
                limits.max_connections);
      continue;  // the socket closes as it goes out of scope
    }
    ++*connections;
    asio::co_spawn(acceptor.get_executor(), session(server, std::move(socket), paths, limits, connections),
                   asio::detached);
  }
  (void)keep;
}

}  // namespace

std::string percentDecode(std::string_view s) { return ambit::percentDecode(s, true); }

std::map<std::string, std::string> parseQuery(std::string_view query) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start <= query.size()) {
    auto amp = query.find('&', start);
    if (amp == std::string_view::npos) amp = query.size();
    auto part = query.substr(start, amp - start);
    if (!part.empty()) {
      auto eq = part.find('=');
      if (eq == std::string_view::npos) out[percentDecode(part)] = "";
      else out[percentDecode(part.substr(0, eq))] = percentDecode(part.substr(eq + 1));
    }
    start = amp + 1;
  }
  return out;
}

AdminServer::AdminServer(AdminLimits limits) : limits_(limits) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::route(std::string path, std::vector<std::string> methods, std::string help, Handler handler) {
  routes_[std::move(path)] = Route{std::move(methods), std::move(help), std::move(handler)};
}

Result<tcp::endpoint> AdminServer::listen(const tcp::endpoint& endpoint, std::vector<std::string> paths) {
  auto ep = std::make_shared<Endpoint>(ctx_);
  ep->paths = std::move(paths);
  boost::system::error_code ec;
  ep->acceptor.open(endpoint.protocol(), ec);
  if (!ec) ep->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) ep->acceptor.bind(endpoint, ec);
  if (!ec) ep->acceptor.listen(64, ec);
  if (ec) {
    return makeError(ErrorCode::kUnavailable, "admin: cannot listen on {}:{}: {}", endpoint.address().to_string(),
                     endpoint.port(), ec.message());
  }
  auto bound = ep->acceptor.local_endpoint();
  endpoints_.push_back(ep);
  return bound;
}

void AdminServer::start() {
  if (started_) return;
  started_ = true;
  for (auto& ep : endpoints_) {
    // Each endpoint has its own connection budget, so idle connections to the
    // node-facing stats port cannot starve the kubelet's readiness probes.
    asio::co_spawn(ctx_, acceptLoop(this, ep, ep->acceptor, ep->paths, limits_, std::make_shared<std::size_t>(0)),
                   asio::detached);
  }
  thread_ = std::thread([this] { ctx_.run(); });
}

void AdminServer::stop() {
  if (!started_) return;
  started_ = false;
  ctx_.stop();
  if (thread_.joinable()) thread_.join();
  for (auto& ep : endpoints_) {
    boost::system::error_code ignored;
    ep->acceptor.close(ignored);
  }
}

Response AdminServer::handle(const Request& req, const std::vector<std::string>& allowed_paths) const {
  auto it = routes_.find(req.path);
  bool allowed = allowed_paths.empty() ||
                 std::find(allowed_paths.begin(), allowed_paths.end(), req.path) != allowed_paths.end() ||
                 (req.path == "/" && allowed_paths.empty());
  if (it == routes_.end() || !allowed) {
    return Response{404, "text/plain; charset=utf-8", "not found: " + req.path + "\n", {}};
  }
  const Route& route = it->second;
  if (std::find(route.methods.begin(), route.methods.end(), req.method) == route.methods.end()) {
    std::string allow;
    for (const auto& m : route.methods) allow += (allow.empty() ? "" : ", ") + m;
    return Response{405, "text/plain; charset=utf-8", req.method + " is not allowed on " + req.path + "; use " + allow + "\n",
                    {{"Allow", allow}}};
  }
  try {
    return route.handler(req);
  } catch (const std::exception& e) {
    return Response{500, "text/plain; charset=utf-8", std::string("internal error: ") + e.what() + "\n", {}};
  }
}

std::string AdminServer::index() const {
  std::string out = "ambit admin endpoints:\n";
  for (const auto& [path, route] : routes_) {
    std::string methods;
    for (const auto& m : route.methods) methods += (methods.empty() ? "" : ",") + m;
    out += fmt::format("  {:<20} {:<9} {}\n", path, methods, route.help);
  }
  return out;
}

}  // namespace ambit::admin
