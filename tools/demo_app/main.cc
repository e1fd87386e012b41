// ambit-demo-app: the lab's demo workload. `serve` answers HTTP with which
// pod and version answered (and, with --call, what its upstream answered:
// client -> frontend -> backend), and echoes TCP. `get` and `load` are the
// client side: one request, or a steady stream with a summary a test can
// check (failures, answers per version); `echo` is one TCP round trip.
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "tools/demo_app/http_client.h"

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;

namespace {

std::string envOr(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

struct Identity {
  std::string pod, version, ns, node, service;
};

std::string describe(const Identity& id, const std::string& peer, const std::string& path) {
  std::string s = "pod=" + id.pod + " version=" + id.version;
  if (!id.service.empty()) s += " service=" + id.service;
  if (!id.ns.empty()) s += " namespace=" + id.ns;
  if (!id.node.empty()) s += " node=" + id.node;
  return s + " peer=" + peer + " path=" + path;
}

struct ServeOptions {
  Identity id;
  uint16_t http_port = 8080;
  uint16_t tcp_port = 9090;
  std::string call;  // upstream URL called on every request to "/"
  std::chrono::milliseconds upstream_timeout{2000};
};

// One HTTP/1.1 connection: keep-alive until the client closes.
awaitable<void> serveHttp(tcp::socket socket, const ServeOptions& opt) {
  beast::flat_buffer buf;
  beast::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  std::string peer = ec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
  for (int served = 0; served < 100000; ++served) {  // bounded per connection
    http::request<http::string_body> req;
    auto [rec, n] = co_await http::async_read(socket, buf, req, asio::as_tuple(use_awaitable));
    if (rec) break;
    http::response<http::string_body> res;
    res.version(req.version());
    res.keep_alive(req.keep_alive());
    res.set(http::field::content_type, "text/plain");
    res.set("x-ambit-pod", opt.id.pod);
    res.set("x-ambit-version", opt.id.version);
    std::string target(req.target());
    std::smatch m;
    static const std::regex kStatus("^/status/([1-5][0-9][0-9])$");
    if (target == "/healthz") {
      res.result(http::status::ok);
      res.body() = "ok\n";
    } else if (std::regex_match(target, m, kStatus)) {
      res.result(static_cast<unsigned>(std::stoi(m[1].str())));
      res.body() = describe(opt.id, peer, target) + "\n";
    } else {
      res.result(http::status::ok);
      res.body() = describe(opt.id, peer, target) + "\n";
      if (!opt.call.empty()) {
        auto up = co_await ambit::demo::asyncGet(socket.get_executor(), opt.call, opt.upstream_timeout);
        if (up.error.empty()) {
          res.body() += "  -> " + up.body;
          if (up.status >= 400) res.result(static_cast<unsigned>(up.status));
        } else {
          res.result(http::status::bad_gateway);
          res.body() += "  -> upstream " + opt.call + " failed: " + up.error + "\n";
        }
      }
    }
    res.prepare_payload();
    auto [wec, w] = co_await http::async_write(socket, res, asio::as_tuple(use_awaitable));
    if (wec || !res.keep_alive()) break;
  }
  socket.shutdown(tcp::socket::shutdown_send, ec);
}

awaitable<void> serveEcho(tcp::socket socket) {
  std::array<char, 16384> buf;
  for (;;) {
    auto [ec, n] = co_await socket.async_read_some(asio::buffer(buf), asio::as_tuple(use_awaitable));
    if (ec) break;
    auto [wec, w] = co_await asio::async_write(socket, asio::buffer(buf.data(), n), asio::as_tuple(use_awaitable));
    if (wec) break;
  }
}

template <typename Handler>
awaitable<void> acceptLoop(tcp::acceptor& acceptor, Handler handler) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(use_awaitable));
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      continue;  // EMFILE and the like: keep serving the others
    }
    asio::co_spawn(acceptor.get_executor(), handler(std::move(socket)), asio::detached);
  }
}

tcp::acceptor listen(asio::io_context& io, uint16_t port) {
  // Dual-stack where IPv6 exists, IPv4 otherwise.
  beast::error_code ec;
  tcp::acceptor a(io);
  tcp::endpoint ep(asio::ip::address_v6::any(), port);
  a.open(ep.protocol(), ec);
  if (!ec) a.set_option(asio::ip::v6_only(false), ec);
  if (ec) {
    a = tcp::acceptor(io);
    ep = tcp::endpoint(asio::ip::address_v4::any(), port);
    a.open(ep.protocol());
  }
  a.set_option(tcp::acceptor::reuse_address(true));
  a.bind(ep);
  a.listen(1024);
  return a;
}

int serve(const ServeOptions& opt) {
  asio::io_context io(1);
  auto http_acc = listen(io, opt.http_port);
  std::optional<tcp::acceptor> echo_acc;
  if (opt.tcp_port != 0) echo_acc.emplace(listen(io, opt.tcp_port));
  asio::co_spawn(io, acceptLoop(http_acc, [&opt](tcp::socket s) { return serveHttp(std::move(s), opt); }),
                 asio::detached);
  if (echo_acc) {
    asio::co_spawn(io, acceptLoop(*echo_acc, [](tcp::socket s) { return serveEcho(std::move(s)); }), asio::detached);
  }
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, int) { io.stop(); });
  std::cout << "msg=listening pod=" << opt.id.pod << " version=" << opt.id.version << " http=" << opt.http_port
            << " tcp=" << opt.tcp_port << (opt.call.empty() ? "" : " call=" + opt.call) << std::endl;
  io.run();
  return 0;
}

struct LoadOptions {
  std::string url;
  int count = 100;
  std::chrono::milliseconds interval{50};
  std::chrono::milliseconds timeout{2000};
  bool reuse = false;
};

// Sequential requests; prints each failure and a summary line:
//   requests=N ok=N failed=M versions=v1:90,v2:10
int load(const LoadOptions& opt) {
  ambit::demo::SyncClient client(opt.url, opt.timeout, opt.reuse);
  int ok = 0, failed = 0;
  std::map<std::string, int> versions;
  auto next = std::chrono::steady_clock::now();
  for (int i = 0; i < opt.count; ++i) {
    auto r = client.get();
    if (r.error.empty() && r.status < 500) {
      ++ok;
      versions[r.version.empty() ? "-" : r.version]++;
    } else {
      ++failed;
      std::cout << "request " << i << " failed: " << (r.error.empty() ? "status " + std::to_string(r.status) : r.error)
                << std::endl;
    }
    next += opt.interval;
    std::this_thread::sleep_until(next);
  }
  std::string vs;
  for (const auto& [v, n] : versions) vs += (vs.empty() ? "" : ",") + v + ":" + std::to_string(n);
  std::cout << "requests=" << opt.count << " ok=" << ok << " failed=" << failed << " versions=" << (vs.empty() ? "-" : vs)
            << std::endl;
  return failed == 0 ? 0 : 1;
}

// `echo HOST:PORT`: one TCP round trip (connect, send the message and a
// newline, read as much back); prints what came back, exit 1 unless it matches.
int echo(const std::string& target, const std::string& message, std::chrono::milliseconds timeout) {
  auto colon = target.rfind(':');
  if (colon == std::string::npos || colon == 0) throw std::runtime_error("echo: HOST:PORT, not '" + target + "'");
  asio::io_context io;
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(target.substr(0, colon), target.substr(colon + 1));
  tcp::socket socket(io);
  std::string sent = message + "\n", got;
  boost::system::error_code result = asio::error::timed_out;
  asio::steady_timer timer(io, timeout);
  timer.async_wait([&](boost::system::error_code ec) {
    if (!ec) socket.close();  // the pending operation fails; result stays timed_out
  });
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        auto [cec, ep] = co_await asio::async_connect(socket, endpoints, asio::as_tuple(use_awaitable));
        if (cec) {
          result = cec;
          co_return;
        }
        auto [wec, w] = co_await asio::async_write(socket, asio::buffer(sent), asio::as_tuple(use_awaitable));
        if (wec) {
          result = wec;
          co_return;
        }
        std::array<char, 4096> buf;
        while (got.size() < sent.size()) {
          auto [rec, n] = co_await socket.async_read_some(asio::buffer(buf), asio::as_tuple(use_awaitable));
          if (rec) {
            result = rec;
            co_return;
          }
          got.append(buf.data(), n);
        }
        result = {};
        timer.cancel();
      },
      asio::detached);
  io.run();
  if (!got.empty()) std::cout << got << (got.back() == '\n' ? "" : "\n");
  if (got == sent) return 0;
  std::cerr << "error: " << (result ? result.message() : "the echo differs") << " (" << got.size() << " of "
            << sent.size() << " bytes back)\n";
  return 1;
}

std::chrono::milliseconds parseMs(const std::string& s) {
  static const std::regex kDur("^([0-9]+)(ms|s)$");
  std::smatch m;
  if (!std::regex_match(s, m, kDur)) throw CLI::ValidationError("duration", "'" + s + "' is not like 50ms or 2s");
  auto n = std::stoll(m[1].str());
  return std::chrono::milliseconds(m[2] == "s" ? n * 1000 : n);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli("ambit-demo-app: the lab's demo workload (HTTP + TCP echo, and a client)");
  cli.require_subcommand(1);

  ServeOptions so;
  char host[256] = "demo";
  ::gethostname(host, sizeof(host) - 1);
  so.id.pod = envOr("POD_NAME", host);
  so.id.ns = envOr("POD_NAMESPACE", "");
  so.id.node = envOr("NODE_NAME", "");
  so.id.version = envOr("APP_VERSION", "v1");
  std::string upstream_timeout = "2s";
  auto* serve_cmd = cli.add_subcommand("serve", "serve HTTP (and TCP echo)");
  serve_cmd->add_option("--http-port", so.http_port, "HTTP port")->capture_default_str();
  serve_cmd->add_option("--tcp-port", so.tcp_port, "TCP echo port (0: none)")->capture_default_str();
  serve_cmd->add_option("--version", so.id.version, "version reported (default $APP_VERSION or v1)");
  serve_cmd->add_option("--name", so.id.pod, "pod name reported (default $POD_NAME)");
  serve_cmd->add_option("--service", so.id.service, "service name reported");
  serve_cmd->add_option("--call", so.call, "upstream URL to call on each request (frontend -> backend)");
  serve_cmd->add_option("--upstream-timeout", upstream_timeout, "upstream call timeout")->capture_default_str();

  std::string get_url, get_timeout = "2s";
  auto* get_cmd = cli.add_subcommand("get", "one GET; prints the body, exit 1 on error or status >= 500");
  get_cmd->add_option("url", get_url, "http://host[:port]/path")->required();
  get_cmd->add_option("--timeout", get_timeout, "connect + response timeout")->capture_default_str();

  LoadOptions lo;
  std::string interval = "50ms", timeout = "2s";
  auto* load_cmd = cli.add_subcommand("load", "a steady stream of GETs, one new connection each (or --reuse)");
  load_cmd->add_option("url", lo.url, "http://host[:port]/path")->required();
  load_cmd->add_option("--count", lo.count, "requests")->capture_default_str()->check(CLI::Range(1, 1000000));
  load_cmd->add_option("--interval", interval, "time between request starts")->capture_default_str();
  load_cmd->add_option("--timeout", timeout, "per-request timeout")->capture_default_str();
  load_cmd->add_flag("--reuse", lo.reuse, "keep one connection for every request");

  std::string echo_target, echo_message = "hello from " + so.id.pod, echo_timeout = "2s";
  auto* echo_cmd = cli.add_subcommand("echo", "one TCP round trip to an echo port; exit 1 unless it comes back whole");
  echo_cmd->add_option("target", echo_target, "host:port")->required();
  echo_cmd->add_option("--message", echo_message, "what to send (a newline is added)")->capture_default_str();
  echo_cmd->add_option("--timeout", echo_timeout, "for the whole round trip")->capture_default_str();

  CLI11_PARSE(cli, argc, argv);
  try {
    if (*serve_cmd) {
      so.upstream_timeout = parseMs(upstream_timeout);
      return serve(so);
    }
    if (*get_cmd) {
      ambit::demo::SyncClient client(get_url, parseMs(get_timeout), false);
      auto r = client.get();
      if (!r.error.empty()) {
        std::cerr << "error: " << r.error << "\n";
        return 1;
      }
      std::cout << r.body;
      return r.status >= 500 ? 1 : 0;
    }
    if (*echo_cmd) return echo(echo_target, echo_message, parseMs(echo_timeout));
    lo.interval = parseMs(interval);
    lo.timeout = parseMs(timeout);
    return load(lo);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
}
