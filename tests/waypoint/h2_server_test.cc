// The waypoint's HTTP/2 server session on an in-memory transport, fed raw
// frames: a request reaches the handler whole and its response goes out; an
// empty-DATA flood and a rapid-reset flood end the session with GOAWAY while
// the handlers running at once stay bounded.
#include "waypoint/http/h2_server.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

namespace ambit::waypoint::http {
namespace {

constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr uint8_t kData = 0, kHeaders = 1, kPriority = 2, kRst = 3, kSettings = 4, kGoaway = 7, kWindowUpdate = 8;
constexpr uint8_t kEndStream = 1, kEndHeaders = 4;
// HPACK: :method GET, :path /, :scheme http (static table), :authority "a" (literal).
constexpr std::string_view kGetBlock = "\x82\x84\x86\x01\x01" "a";

std::string frame(uint8_t type, uint8_t flags, uint32_t stream, std::string_view payload) {
  std::string f;
  auto len = static_cast<uint32_t>(payload.size());
  for (int shift : {16, 8, 0}) f += static_cast<char>((len >> shift) & 0xff);
  f += static_cast<char>(type);
  f += static_cast<char>(flags);
  for (int shift : {24, 16, 8, 0}) f += static_cast<char>((stream >> shift) & (shift == 24 ? 0x7f : 0xff));
  f.append(payload);
  return f;
}

struct Frame {
  uint8_t type, flags;
  uint32_t stream;
  std::string payload;
};

std::vector<Frame> parse(const std::string& bytes) {
  std::vector<Frame> out;
  std::size_t off = 0;
  while (off + 9 <= bytes.size()) {
    auto b = [&](std::size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(bytes[off + i])); };
    uint32_t len = (b(0) << 16) | (b(1) << 8) | b(2);
    if (off + 9 + len > bytes.size()) break;
    uint32_t stream = ((b(5) & 0x7f) << 24) | (b(6) << 16) | (b(7) << 8) | b(8);
    out.push_back({static_cast<uint8_t>(b(3)), static_cast<uint8_t>(b(4)), stream, bytes.substr(off + 9, len)});
    off += 9 + len;
  }
  return out;
}

// Feeds `input` (then EOF) to a session and runs it to its end.
struct Run {
  std::string output;
  bool ended = false;
  std::string reason;
};

// `hold`: how long the client's side stays open after its input (0: it
// closes at once).
Run runSession(const std::string& input, H2Server::Handler handler, H2ServerLimits limits = {},
               std::chrono::milliseconds hold = std::chrono::milliseconds(0)) {
  asio::io_context io;
  Run r;
  auto fed = std::make_shared<bool>(false);
  H2Transport t;
  t.read = [fed, input, hold](std::string& out) -> asio::awaitable<std::size_t> {
    if (*fed) {
      asio::steady_timer wait(co_await asio::this_coro::executor, hold);
      co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
      co_return 0;
    }
    *fed = true;
    out += input;
    co_return input.size();
  };
  t.write = [&r](std::string_view data) -> asio::awaitable<bool> {
    r.output.append(data);
    co_return true;
  };
  t.close_write = [] {};
  t.abort = [] {};
  auto server = H2Server::create(io.get_executor(), limits, std::move(t), std::move(handler), "");
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await server->run();
        r.ended = true;
        r.reason = server->endReason();
      },
      asio::detached);
  io.run_for(std::chrono::seconds(20));
  return r;
}

std::string preface() { return std::string(kPreface) + frame(kSettings, 0, 0, ""); }

TEST(H2ServerTest, ARequestReachesTheHandlerWholeAndItsResponseGoesOut) {
  std::string input = preface() + frame(kHeaders, kEndHeaders, 1, kGetBlock) +
                      frame(kData, 0, 1, "hel") + frame(kData, kEndStream, 1, "lo");
  Request seen;
  auto r = runSession(input, [&](std::shared_ptr<H2Exchange> x) -> asio::awaitable<void> {
    seen = x->request();
    bool end = false;
    for (int i = 0; i < 10 && !end; ++i) {
      if (!co_await x->readBody(seen.body, end)) break;
    }
    std::vector<route::Header> fields = {{"Content-Type", "text/plain"}, {"connection", "close"}};
    x->respond(200, fields, true);
    co_await x->write("reply");
    x->end();
  });
  EXPECT_TRUE(r.ended);
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.target, "/");
  EXPECT_EQ(seen.header("host"), "a");
  EXPECT_EQ(seen.body, "hello");
  bool headers = false, data = false;
  for (const auto& f : parse(r.output)) {
    if (f.type == kHeaders && f.stream == 1) headers = true;
    if (f.type == kData && f.stream == 1 && f.payload == "reply" && (f.flags & kEndStream)) data = true;
  }
  EXPECT_TRUE(headers && data) << r.output.size() << " bytes out";
}

bool goawayWith(const std::string& output, uint32_t code) {
  for (const auto& f : parse(output)) {
    if (f.type != kGoaway || f.payload.size() < 8) continue;
    auto b = [&](std::size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(f.payload[i])); };
    if (((b(4) << 24) | (b(5) << 16) | (b(6) << 8) | b(7)) == code) return true;
  }
  return false;
}

TEST(H2ServerTest, AnEmptyDataFloodEndsTheSession) {
  std::string input = preface() + frame(kHeaders, kEndHeaders, 1, kGetBlock);
  for (int i = 0; i < 500; ++i) input += frame(kData, 0, 1, "");
  int calls = 0;
  bool read = true;
  auto r = runSession(input, [&](std::shared_ptr<H2Exchange> x) -> asio::awaitable<void> {
    ++calls;  // the handler starts with the head and waits for the body, which never comes
    std::string body;
    bool end = false;
    read = co_await x->readBody(body, end);
  });
  EXPECT_TRUE(r.ended);
  EXPECT_TRUE(goawayWith(r.output, 11 /* ENHANCE_YOUR_CALM */)) << r.reason;
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(read) << "the session's end fails the body's read";
}

TEST(H2ServerTest, WindowUpdateAndPriorityFloodsEndTheSession) {
  // A request answered with one DATA frame allows 5 + 2 * (1 + 10) = 27 WINDOW_UPDATEs; a peer sending
  // 200 acknowledges far more than it was sent. PRIORITY: 10 + 100 per stream opened.
  const std::string increment("\0\0\0\1", 4);
  const std::string priority("\0\0\0\0\x0f", 5);
  struct Case {
    std::string frames;
    const char* reason;
  } cases[] = {
      {frame(kWindowUpdate, 0, 0, increment), "WINDOW_UPDATE flood"},
      {frame(kPriority, 0, 3, priority), "PRIORITY flood"},
  };
  for (const auto& c : cases) {
    std::string input = preface() + frame(kHeaders, kEndHeaders | kEndStream, 1, kGetBlock);
    for (int i = 0; i < 200; ++i) input += c.frames;
    auto r = runSession(input, [&](std::shared_ptr<H2Exchange> x) -> asio::awaitable<void> {
      std::vector<route::Header> none;
      x->respond(200, none, true);
      co_await x->write("reply");
      x->end();
    });
    EXPECT_TRUE(r.ended);
    EXPECT_EQ(r.reason, c.reason);
    EXPECT_TRUE(goawayWith(r.output, 11 /* ENHANCE_YOUR_CALM */)) << r.reason;
  }
  // Within the caps: a few of each are fine.
  std::string input = preface() + frame(kHeaders, kEndHeaders | kEndStream, 1, kGetBlock) +
                      frame(kWindowUpdate, 0, 0, increment) + frame(kPriority, 0, 3, priority);
  auto r = runSession(input, [&](std::shared_ptr<H2Exchange> x) -> asio::awaitable<void> {
    std::vector<route::Header> none;
    x->respond(200, none, false);
    co_return;
  });
  EXPECT_FALSE(goawayWith(r.output, 11)) << r.reason;
}

TEST(H2ServerTest, RapidResetEndsTheSessionAndHandlersStayBounded) {
  std::string input = preface();
  std::string cancel("\0\0\0\x08", 4);
  for (uint32_t i = 0; i < 5000; ++i) {
    uint32_t id = 2 * i + 1;
    input += frame(kHeaders, kEndHeaders | kEndStream, id, kGetBlock);
    input += frame(kRst, 0, id, cancel);
  }
  int running = 0, most = 0, calls = 0;
  auto r = runSession(input, [&](std::shared_ptr<H2Exchange>) -> asio::awaitable<void> {
    ++calls;
    most = std::max(most, ++running);
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    --running;
  });
  EXPECT_TRUE(r.ended);
  // nghttp2's reset rate limit (burst 1000) ends it with INTERNAL_ERROR.
  EXPECT_TRUE(goawayWith(r.output, 2 /* INTERNAL_ERROR */)) << r.reason;
  EXPECT_LE(most, 200) << "handlers of reset streams are capped at twice the stream limit";
  EXPECT_LT(calls, 5000);
}

TEST(H2ServerTest, TooManyHeaderFieldsAreAnswered431) {
  std::string block(kGetBlock);
  for (int i = 0; i < 150; ++i) {
    std::string name = "x-" + std::to_string(i);
    block += '\0';
    block += static_cast<char>(name.size());
    block += name;
    block += "\x01y";
  }
  int status = 0;
  auto r = runSession(preface() + frame(kHeaders, kEndHeaders | kEndStream, 1, block),
                      [&](std::shared_ptr<H2Exchange> x) -> asio::awaitable<void> {
                        status = x->errorStatus();
                        x->respond(x->errorStatus(), {}, false);
                        co_return;
                      });
  EXPECT_TRUE(r.ended);
  EXPECT_EQ(status, 431);
}

bool resetWith(const std::string& output, uint32_t stream, uint32_t code) {
  for (const auto& f : parse(output)) {
    if (f.type != kRst || f.stream != stream || f.payload.size() != 4) continue;
    auto b = [&](std::size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(f.payload[i])); };
    if (((b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3)) == code) return true;
  }
  return false;
}

TEST(H2ServerTest, AnAnswerBeforeTheBodyEndsIsFollowedByAResetSoTheClientStops) {
  std::string block(kGetBlock);
  block += std::string("\0\x0e", 2) + "content-length" + "\x08" + "99999999";
  bool started_before_the_body = false;
  auto r = runSession(preface() + frame(kHeaders, kEndHeaders, 1, block) + frame(kData, 0, 1, "abc"),
                      [&](std::shared_ptr<H2Exchange> x) -> asio::awaitable<void> {
                        std::string body;
                        started_before_the_body = !x->takeBody(body);
                        x->respond(413, {}, true);
                        co_await x->write("too large");
                        x->end();
                      },
                      {}, std::chrono::milliseconds(200));
  EXPECT_TRUE(r.ended);
  EXPECT_TRUE(started_before_the_body) << "the handler runs once the head is in";
  EXPECT_TRUE(resetWith(r.output, 1, 0 /* NO_ERROR */)) << r.reason;
}

TEST(H2ServerTest, TheHandlerReadsTheBodyAsItComesAndACutBodyFails) {
  // HEADERS and some DATA, then the client's side closes mid-body.
  std::string input = preface() + frame(kHeaders, kEndHeaders, 1, kGetBlock) + frame(kData, 0, 1, "part");
  std::string body;
  bool first = false, second = true, end = false;
  auto r = runSession(input, [&](std::shared_ptr<H2Exchange> x) -> asio::awaitable<void> {
    first = co_await x->readBody(body, end);
    second = co_await x->readBody(body, end);  // the rest never comes: the stream is reset
    co_return;
  }, {}, std::chrono::milliseconds(100));
  EXPECT_TRUE(r.ended);
  EXPECT_TRUE(first);
  EXPECT_EQ(body, "part");
  EXPECT_FALSE(end);
  EXPECT_FALSE(second);
  EXPECT_TRUE(resetWith(r.output, 1, 8 /* CANCEL */)) << r.reason;
}

TEST(H2ServerTest, ABodyThatStopsComingIsResetAfterTheIdleTimeout) {
  std::string input = preface() + frame(kHeaders, kEndHeaders, 1, kGetBlock) + frame(kData, 0, 1, "some");
  H2ServerLimits limits;
  limits.idle_timeout = std::chrono::milliseconds(150);
  std::string body;
  bool end = false, more = true;
  auto started = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration waited{};
  auto r = runSession(
      input,
      [&](std::shared_ptr<H2Exchange> x) -> asio::awaitable<void> {
        co_await x->readBody(body, end);
        more = co_await x->readBody(body, end);  // nothing more comes
        waited = std::chrono::steady_clock::now() - started;
      },
      limits, std::chrono::milliseconds(1000));
  EXPECT_TRUE(r.ended);
  EXPECT_EQ(body, "some");
  EXPECT_FALSE(more);
  EXPECT_LT(waited, std::chrono::milliseconds(800)) << "reset by the idle timeout, not by the client's close";
  EXPECT_TRUE(resetWith(r.output, 1, 8 /* CANCEL */)) << r.reason;
}

TEST(H2ServerTest, AResponseTheClientTakesNothingOfIsReset) {
  // The client's stream window is 0: no DATA can go out.
  std::string settings("\x00\x04\x00\x00\x00\x00", 6);  // INITIAL_WINDOW_SIZE = 0
  std::string input = std::string(kPreface) + frame(kSettings, 0, 0, settings) +
                      frame(kHeaders, kEndHeaders | kEndStream, 1, kGetBlock);
  H2ServerLimits limits;
  limits.stall_timeout = std::chrono::milliseconds(200);
  bool write_failed = false;
  auto r = runSession(
      input,
      [&](std::shared_ptr<H2Exchange> x) -> asio::awaitable<void> {
        x->respond(200, {}, true);
        std::string big(200 * 1024, 'x');
        write_failed = !co_await x->write(big);
      },
      limits);
  EXPECT_TRUE(r.ended);
  EXPECT_TRUE(write_failed) << "the writer was woken by the reset";
  EXPECT_TRUE(resetWith(r.output, 1, 8 /* CANCEL */)) << r.reason;
}

}  // namespace
}  // namespace ambit::waypoint::http
