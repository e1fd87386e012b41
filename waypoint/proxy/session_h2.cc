// A tunnel carrying HTTP/2: an H2Server session on the HBONE stream; each of
// its requests goes through the same handling as an HTTP/1.1 one, and its
// response (with the upstream's trailers, if any) goes back on its own
// HTTP/2 stream.
#include <charconv>

#include <boost/asio/use_awaitable.hpp>

#include "common/log/log.h"
#include "waypoint/http/h2_server.h"
#include "waypoint/proxy/internal.h"

namespace ambit::waypoint {

namespace {

uint64_t fieldBytes(const std::vector<route::Header>& fields) {
  uint64_t n = 0;
  for (const auto& f : fields) n += f.name.size() + f.value.size() + 4;
  return n;
}

// The rest of a request body, from its HTTP/2 stream.
class ExchangeBody final : public http::BodySource {
 public:
  explicit ExchangeBody(std::shared_ptr<http::H2Exchange> x) : x_(std::move(x)) {}
  asio::awaitable<bool> read(std::string& out, bool& end) override { co_return co_await x_->readBody(out, end); }

 private:
  std::shared_ptr<http::H2Exchange> x_;
};

class H2Responder final : public Responder {
 public:
  explicit H2Responder(std::shared_ptr<http::H2Exchange> x) : x_(std::move(x)) {}

  asio::awaitable<bool> local(int status, std::string_view body, const std::vector<route::Header>& extra,
                              uint64_t& bytes) override {
    std::vector<route::Header> fields = extra;
    if (status != 204) fields.push_back({"content-length", std::to_string(body.size())});
    if (!body.empty()) fields.push_back({"content-type", "text/plain"});
    bytes = fieldBytes(fields) + body.size();
    if (!x_->respond(status, fields, !body.empty())) co_return false;
    if (body.empty()) co_return true;
    bool ok = co_await x_->write(body);
    x_->end();
    co_return ok;
  }

  asio::awaitable<bool> head(int status, std::string_view /*reason*/, std::vector<route::Header>& fields,
                             std::optional<uint64_t> length, bool no_body, bool complete,
                             uint64_t& bytes) override {
    if (!no_body && length) fields.push_back({"content-length", std::to_string(*length)});
    bytes = fieldBytes(fields);
    co_return x_->respond(status, fields, !no_body && !complete);
  }

  asio::awaitable<bool> body(std::string_view data) override { co_return co_await x_->write(data); }

  asio::awaitable<bool> end(const std::vector<route::Header>& trailers) override {
    x_->end(trailers);
    co_return !x_->closed();
  }

  void abort() override { x_->reset(); }

 private:
  std::shared_ptr<http::H2Exchange> x_;
};

}  // namespace

asio::awaitable<void> Waypoint::serveHttp2(std::shared_ptr<hbone::Stream> stream, Downstream& d, std::string in) {
  static auto logger = log::scope("waypoint.http");
  http::H2ServerLimits limits;
  limits.max_header_bytes = config_.limits.max_header_bytes;
  limits.max_headers = config_.limits.max_headers;
  limits.request_timeout = config_.request_header_timeout;
  limits.idle_timeout = config_.idle_timeout;

  auto transport = transportOver(stream);
  // Request bodies kept for resending across the connection's streams (as
  // much as the connection's window lets in at once).
  d.keep_budget = std::make_shared<http::KeepBudget>(limits.connection_window);

  auto handler = [this, &d](std::shared_ptr<http::H2Exchange> x) -> asio::awaitable<void> {
    H2Responder responder(x);
    if (x->errorStatus() != 0) {
      auto started = std::chrono::steady_clock::now();
      uint64_t bytes = 0;
      std::string body(http::reasonPhrase(x->errorStatus()));
      std::vector<route::Header> none;
      co_await responder.local(x->errorStatus(), body, none, bytes);
      refused(d, x->errorStatus(), x->errorReason(), started, bytes);
      co_return;
    }
    // Shared by the connection's requests: handleRequest holds the route
    // table it uses, so another stream refreshing d's snapshots is harmless.
    if (x->closed()) co_return;  // the client reset it before it was handled
    // The body goes on streaming unless it is all here already.
    http::Request req = std::move(x->request());
    std::shared_ptr<http::RequestBody> body;
    if (x->takeBody(req.body)) {
      body = std::make_shared<http::RequestBody>(std::move(req.body));
    } else {
      std::optional<uint64_t> declared;
      auto cl = req.header("content-length");
      uint64_t n = 0;
      if (!cl.empty() && std::from_chars(cl.data(), cl.data() + cl.size(), n).ec == std::errc()) declared = n;
      auto ex = co_await asio::this_coro::executor;
      body = std::make_shared<http::RequestBody>(ex, std::move(req.body), std::make_unique<ExchangeBody>(x),
                                                 config_.limits.max_body_bytes, declared, d.keep_budget);
    }
    co_await handleRequest(responder, d, std::move(req), std::move(body));
  };
  auto server = http::H2Server::create(stream->connection().executor(), limits, std::move(transport),
                                       std::move(handler), std::move(in));
  co_await server->run();
  log::debug(*logger, "h2_session_end", "src", d.source_ip, "authority", d.vip, "reason", server->endReason());
  co_await lingerClose(stream);
}

}  // namespace ambit::waypoint
