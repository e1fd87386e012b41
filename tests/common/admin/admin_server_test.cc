// The admin endpoints over a real socket, with Beast as the client.
#include "common/admin/admin_server.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <atomic>

#include "common/admin/admin_handlers.h"
#include "common/log/log.h"

namespace ambit::admin {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

struct Reply {
  int status = 0;
  std::string body;
  std::string content_type;
};

Reply call(const tcp::endpoint& ep, http::verb verb, const std::string& target, std::string body = {}) {
  asio::io_context ctx;
  beast::tcp_stream stream(ctx);
  stream.connect(ep);
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "localhost");
  req.body() = std::move(body);
  req.prepare_payload();
  http::write(stream, req);
  beast::flat_buffer buf;
  http::response<http::string_body> resp;
  http::read(stream, buf, resp);
  return Reply{static_cast<int>(resp.result_int()), resp.body(), std::string(resp[http::field::content_type])};
}

class AdminServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry_.counter("ambit_test_requests_total", "Requests", {"code"}).get({"200"})->inc(5);
    addStandardHandlers(server_, StandardHandlers{
                                     .registry = &registry_,
                                     .ready = [this] { return Readiness{ready_.load(), "waiting for certificates"}; },
                                     .config_dump = [] { return nlohmann::json{{"workloads", {{"uid", "pod-1"}}}}; },
                                     .quit = [this] { quit_ = true; },
                                 });
    auto loopback = asio::ip::make_address("127.0.0.1");
    auto admin = server_.listen(tcp::endpoint(loopback, 0));
    auto stats = server_.listen(tcp::endpoint(loopback, 0), statsPaths());
    ASSERT_TRUE(admin.ok() && stats.ok());
    admin_ = *admin;
    stats_ = *stats;
    server_.start();
  }

  metrics::Registry registry_;
  AdminServer server_;
  tcp::endpoint admin_, stats_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> quit_{false};
};

TEST_F(AdminServerTest, ReadinessFollowsTheCallback) {
  Reply r = call(admin_, http::verb::get, "/healthz/ready");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "waiting for certificates\n");
  ready_ = true;
  r = call(admin_, http::verb::get, "/healthz/ready");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ready\n");
}

TEST_F(AdminServerTest, ServesPrometheusText) {
  for (const char* path : {"/stats/prometheus", "/metrics"}) {
    Reply r = call(admin_, http::verb::get, path);
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
    EXPECT_NE(r.body.find("ambit_test_requests_total{code=\"200\"} 5\n"), std::string::npos) << r.body;
  }
}

TEST_F(AdminServerTest, ConfigDumpIsJson) {
  Reply r = call(admin_, http::verb::get, "/config_dump");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  auto j = nlohmann::json::parse(r.body);
  EXPECT_EQ(j["workloads"]["uid"], "pod-1");
}

TEST_F(AdminServerTest, LoggingLevelsChangeWithPost) {
  auto l = log::scope("admin.test");
  log::setDefaultLevel(log::Level::info);
  EXPECT_EQ(call(admin_, http::verb::post, "/logging?admin.test=debug").status, 200);
  EXPECT_EQ(l->level(), log::Level::debug);
  EXPECT_EQ(call(admin_, http::verb::post, "/logging?level=warning").status, 200);
  EXPECT_EQ(l->level(), log::Level::warn);
  Reply listing = call(admin_, http::verb::get, "/logging");
  EXPECT_NE(listing.body.find("admin.test: warn"), std::string::npos) << listing.body;
  EXPECT_EQ(call(admin_, http::verb::post, "/logging?level=loud").status, 400);
  EXPECT_EQ(call(admin_, http::verb::post, "/logging?no.such.scope=debug").status, 404);
  log::setDefaultLevel(log::Level::info);
}

TEST_F(AdminServerTest, HeadHasNoBodyAndKeepsTheConnectionUsable) {
  asio::io_context ctx;
  beast::tcp_stream stream(ctx);
  stream.connect(admin_);
  for (auto verb : {http::verb::head, http::verb::get}) {
    http::request<http::string_body> req{verb, "/healthz/ready", 11};
    req.set(http::field::host, "localhost");
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    if (verb == http::verb::head) parser.skip(true);  // a HEAD response has no body to read
    http::read(stream, buf, parser);
    EXPECT_EQ(parser.get().result_int(), 503u);
    if (verb == http::verb::get) {
      EXPECT_EQ(parser.get().body(), "waiting for certificates\n");
    }
  }
}

TEST_F(AdminServerTest, LoggingChangesAreAllOrNothing) {
  auto l = log::scope("admin.atomic");
  log::setDefaultLevel(log::Level::info);
  EXPECT_EQ(call(admin_, http::verb::post, "/logging?admin.atomic=debug&no.such.scope=debug").status, 404);
  EXPECT_EQ(l->level(), log::Level::info) << "nothing applied when one part is bad";
}

TEST_F(AdminServerTest, QuitNeedsPost) {
  EXPECT_EQ(call(admin_, http::verb::get, "/quitquitquit").status, 405);
  EXPECT_FALSE(quit_);
  EXPECT_EQ(call(admin_, http::verb::post, "/quitquitquit").status, 200);
  EXPECT_TRUE(quit_);
}

TEST_F(AdminServerTest, StatsEndpointExposesOnlyStats) {
  EXPECT_EQ(call(stats_, http::verb::get, "/stats/prometheus").status, 200);
  EXPECT_EQ(call(stats_, http::verb::get, "/config_dump").status, 404);
  EXPECT_EQ(call(stats_, http::verb::post, "/quitquitquit").status, 404);
  EXPECT_EQ(call(admin_, http::verb::get, "/nope").status, 404);
}

TEST_F(AdminServerTest, OversizedBodyIsRefused) {
  // The body limit protects the admin thread; the server drops the connection.
  EXPECT_THROW(call(admin_, http::verb::post, "/logging", std::string(200 * 1024, 'x')), boost::system::system_error);
  EXPECT_EQ(call(admin_, http::verb::get, "/healthz/ready").status, 503);  // and keeps serving
}

TEST(QueryTest, ParsesAndDecodes) {
  auto q = parseQuery("level=debug&a%20b=c+d&flag&x=%zz");
  EXPECT_EQ(q["level"], "debug");
  EXPECT_EQ(q["a b"], "c d");
  EXPECT_EQ(q["flag"], "");
  EXPECT_EQ(q["x"], "%zz");
}

}  // namespace
}  // namespace ambit::admin
