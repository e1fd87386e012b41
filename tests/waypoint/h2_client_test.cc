// The waypoint's HTTP/2 upstream client against its own HTTP/2 server
// session, joined by an in-memory pipe: bodies larger than either side's
// flow-control windows go both ways, trailers arrive, a trailers-only answer
// ends at its head, a session is reused, and resets, closes and oversized
// heads are errors that leave the session unusable.
#include "waypoint/http/h2_client.h"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "common/runtime/event.h"
#include "waypoint/http/h2_server.h"

namespace ambit::waypoint::http {
namespace {

using State = H2Client::State;

// One direction of the pipe.
struct Half {
  explicit Half(asio::any_io_executor ex) : changed(ex) {}
  std::string bytes;
  bool closed = false;
  runtime::Event changed;
};

H2Transport end(std::shared_ptr<Half> in, std::shared_ptr<Half> out) {
  H2Transport t;
  t.read = [in](std::string& buf) -> asio::awaitable<std::size_t> {
    for (int i = 0; i < 100000 && in->bytes.empty() && !in->closed; ++i) co_await in->changed.wait();
    std::size_t n = in->bytes.size();
    buf += in->bytes;
    in->bytes.clear();
    co_return n;
  };
  t.write = [out](std::string_view data) -> asio::awaitable<bool> {
    if (out->closed) co_return false;
    out->bytes.append(data);
    out->changed.notify();
    co_return true;
  };
  t.close_write = [out] {
    out->closed = true;
    out->changed.notify();
  };
  t.abort = [in, out] {
    in->closed = out->closed = true;
    in->changed.notify();
    out->changed.notify();
  };
  return t;
}

struct Exchange {
  State last = State::kNeedMore;
  ResponseHead head;
  std::string body;
  std::vector<route::Header> trailers;
  std::string error;
  std::vector<State> states;
  bool complete_at_head = false;  // complete() right after kHead
};

asio::awaitable<Exchange> fetch(H2Client& c, std::string_view path, std::string_view body,
                                const std::vector<route::Header>& headers) {
  Exchange x;
  H2ClientRequest req;
  req.method = body.empty() ? "GET" : "POST";
  req.authority = "svc:80";
  req.path = path;
  req.headers = &headers;
  req.body = body;
  if (!c.start(req)) {
    x.last = State::kError;
    x.error = "not started: " + c.error();
    co_return x;
  }
  for (int i = 0; i < 100000; ++i) {
    x.last = co_await c.next(x.body);
    x.states.push_back(x.last);
    if (x.last == State::kHead) {
      x.head = c.head();
      x.complete_at_head = c.complete();
    }
    if (x.last == State::kDone || x.last == State::kError) break;
  }
  x.trailers = c.trailers();
  x.error = c.error();
  co_return x;
}

struct Harness {
  asio::io_context io;
  std::shared_ptr<Half> up = std::make_shared<Half>(io.get_executor());    // client -> server
  std::shared_ptr<Half> down = std::make_shared<Half>(io.get_executor());  // server -> client
  std::shared_ptr<H2Client> client;

  explicit Harness(H2Server::Handler handler, H2ClientLimits limits = {}, H2ServerLimits sl = {}) {
    auto server = H2Server::create(io.get_executor(), sl, end(up, down), std::move(handler), "");
    asio::co_spawn(io, [server]() -> asio::awaitable<void> { co_await server->run(); }, asio::detached);
    client = std::make_shared<H2Client>(io.get_executor(), end(down, up), limits);
  }

  // Runs `fn` on the io_context to its end (bounded in time).
  template <typename Fn>
  void run(Fn fn) {
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          co_await fn();
          done = true;
          up->closed = true;  // the server's session ends too
          up->changed.notify();
        },
        asio::detached);
    io.run_for(std::chrono::seconds(20));
    ASSERT_TRUE(done) << "the exchange did not finish in 20 s";
  }
};

// The request body as the server's handler reads it, as it comes.
asio::awaitable<std::string> readAll(const std::shared_ptr<H2Exchange>& x) {
  std::string body;
  bool end = false;
  for (int i = 0; i < 100000 && !end; ++i) {
    if (!co_await x->readBody(body, end)) break;
  }
  co_return body;
}

// A POST whose body follows through send().
H2ClientRequest streamedPost(std::string_view path, const std::vector<route::Header>& headers) {
  H2ClientRequest req;
  req.method = "POST";
  req.authority = "svc:80";
  req.path = path;
  req.headers = &headers;
  req.more = true;
  return req;
}

std::string pattern(std::size_t n, char seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(seed + i % 61);
  return s;
}

TEST(H2ClientTest, BodiesBeyondTheWindowsGoBothWaysAndTrailersArrive) {
  const std::string request_body = pattern(3u << 20, 'a');   // > the server's 1 MiB stream window
  const std::string response_body = pattern(2u << 20, 'A');  // > the client's 1 MiB window
  Request seen;
  Harness h([&](std::shared_ptr<H2Exchange> x) -> asio::awaitable<void> {
    seen = x->request();
    seen.body = co_await readAll(x);
    std::vector<route::Header> fields = {{"content-type", "application/grpc"}};
    x->respond(200, fields, true);
    for (std::size_t off = 0; off < response_body.size(); off += 100000) {
      if (!co_await x->write(std::string_view(response_body).substr(off, 100000))) co_return;
    }
    x->end({{"grpc-status", "0"}, {"Grpc-Message", "fine"}});
  });
  std::vector<route::Header> headers = {{"host", "ignored:1"},       {"te", "gzip, trailers"},
                                        {"connection", "close"},     {"content-type", "application/grpc"},
                                        {"X-Upper", "kept"}};
  Exchange x;
  h.run([&]() -> asio::awaitable<void> { x = co_await fetch(*h.client, "/pkg.Svc/Call", request_body, headers); });
  ASSERT_EQ(x.last, State::kDone) << x.error;
  EXPECT_EQ(x.states.front(), State::kHead);
  EXPECT_EQ(x.head.status, 200);
  EXPECT_EQ(x.head.version, 20u);
  EXPECT_EQ(x.head.header("content-type"), "application/grpc");
  EXPECT_EQ(x.body.size(), response_body.size());
  EXPECT_TRUE(x.body == response_body);
  ASSERT_EQ(x.trailers.size(), 2u);
  EXPECT_EQ(x.trailers[0].name, "grpc-status");
  EXPECT_EQ(x.trailers[0].value, "0");
  EXPECT_EQ(x.trailers[1].name, "grpc-message");
  // What the server saw: the body whole, :authority as host, TE as "trailers" only, no connection field.
  EXPECT_EQ(seen.method, "POST");
  EXPECT_EQ(seen.target, "/pkg.Svc/Call");
  EXPECT_EQ(seen.header("host"), "svc:80");
  EXPECT_EQ(seen.header("te"), "trailers");
  EXPECT_EQ(seen.header("connection"), "");
  EXPECT_EQ(seen.header("x-upper"), "kept");
  EXPECT_EQ(seen.header("content-length"), std::to_string(request_body.size()));
  EXPECT_TRUE(seen.body == request_body);
  EXPECT_TRUE(h.client->reusable());
}

TEST(H2ClientTest, ABodyStreamsWhileTheResponseIsReadAndTheSessionIsReusableOnlyOnceItEnded) {
  // The server echoes each piece as it reads it (a bidirectional call): the
  // client sends the next piece only after it read the echo of the last.
  Harness h([&](std::shared_ptr<H2Exchange> x) -> asio::awaitable<void> {
    std::vector<route::Header> none;
    x->respond(200, none, true);
    bool end = false;
    for (int i = 0; i < 100 && !end; ++i) {
      std::string piece;
      if (!co_await x->readBody(piece, end)) co_return;
      if (!piece.empty() && !co_await x->write("echo:" + piece + ";")) co_return;
    }
    x->end();
  });
  std::vector<route::Header> none;
  std::string got;
  State last = State::kNeedMore;
  bool reusable_midway = true;
  h.run([&]() -> asio::awaitable<void> {
    H2ClientRequest req = streamedPost("/stream", none);
    req.body = "one";
    EXPECT_TRUE(h.client->start(req));
    std::string body;
    for (const char* piece : {"two", "three", ""}) {
      // Read until the echo of everything sent so far is in.
      for (int i = 0; i < 100 && std::count(body.begin(), body.end(), ';') <
                                     std::count(got.begin(), got.end(), '|') + 1; ++i) {
        last = co_await h.client->next(body);
        if (last == State::kError || last == State::kDone) break;
      }
      got += "|";
      reusable_midway = reusable_midway && h.client->reusable();
      bool last_piece = std::string_view(piece).empty();
      EXPECT_TRUE(co_await h.client->send(piece, last_piece)) << piece;
    }
    for (int i = 0; i < 100 && last != State::kDone && last != State::kError; ++i) {
      last = co_await h.client->next(body);
    }
    got = body;
  });
  EXPECT_EQ(last, State::kDone) << h.client->error();
  EXPECT_EQ(got, "echo:one;echo:two;echo:three;");
  EXPECT_FALSE(reusable_midway) << "a session whose request is still being sent is not reused";
  EXPECT_TRUE(h.client->reusable());
}

TEST(H2ClientTest, AnAbandonedExchangeWakesItsSenderAndTheSessionIsNotReused) {
  // The server never reads: the body stops at the windows and send() waits.
  Harness h([&](std::shared_ptr<H2Exchange> x) -> asio::awaitable<void> {
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::seconds(1));
    co_await t.async_wait(asio::as_tuple(asio::use_awaitable));
    x->reset();
  });
  std::vector<route::Header> none;
  bool sent = true;
  h.run([&]() -> asio::awaitable<void> {
    H2ClientRequest req = streamedPost("/upload", none);
    EXPECT_TRUE(h.client->start(req));
    auto client = h.client;
    asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
    t.async_wait([client](boost::system::error_code) { client->abandon(); });
    const std::string big(4u << 20, 'z');  // beyond the 1 MiB stream window
    sent = co_await h.client->send(big, false);
  });
  EXPECT_FALSE(sent);
  EXPECT_FALSE(h.client->reusable());
}

TEST(H2ClientTest, ASessionCarriesRequestsOneAfterAnother) {
  int calls = 0;
  Harness h([&](std::shared_ptr<H2Exchange> x) -> asio::awaitable<void> {
    ++calls;
    std::vector<route::Header> none;
    x->respond(200, none, true);
    co_await x->write(x->request().target);
    x->end();
  });
  std::vector<route::Header> none;
  Exchange a, b;
  h.run([&]() -> asio::awaitable<void> {
    a = co_await fetch(*h.client, "/one", "", none);
    b = co_await fetch(*h.client, "/two", "", none);
  });
  EXPECT_EQ(a.last, State::kDone) << a.error;
  EXPECT_EQ(a.body, "/one");
  EXPECT_EQ(b.last, State::kDone) << b.error;
  EXPECT_EQ(b.body, "/two");
  EXPECT_EQ(h.client->uses(), 2u);
  EXPECT_EQ(calls, 2);
}

TEST(H2ClientTest, ATrailersOnlyAnswerEndsAtItsHead) {
  Harness h([&](std::shared_ptr<H2Exchange> x) -> asio::awaitable<void> {
    std::vector<route::Header> fields = {{"content-type", "application/grpc"}, {"grpc-status", "5"}};
    x->respond(200, fields, false);
    co_return;
  });
  std::vector<route::Header> none;
  Exchange x;
  h.run([&]() -> asio::awaitable<void> { x = co_await fetch(*h.client, "/pkg.Svc/Missing", "", none); });
  ASSERT_EQ(x.last, State::kDone) << x.error;
  EXPECT_EQ(x.states, (std::vector<State>{State::kHead, State::kDone}));
  EXPECT_TRUE(x.complete_at_head) << "the waypoint ends the client's response with its head on this";
  EXPECT_EQ(x.head.header("grpc-status"), "5");
  EXPECT_TRUE(x.body.empty());
  EXPECT_TRUE(h.client->reusable());
}

TEST(H2ClientTest, AResetStreamIsAnErrorAndTheSessionIsNotReused) {
  Harness h([&](std::shared_ptr<H2Exchange>) -> asio::awaitable<void> { co_return; });  // reset by the server
  std::vector<route::Header> none;
  Exchange x;
  h.run([&]() -> asio::awaitable<void> { x = co_await fetch(*h.client, "/", "", none); });
  EXPECT_EQ(x.last, State::kError);
  EXPECT_NE(x.error.find("reset the stream"), std::string::npos) << x.error;
  EXPECT_TRUE(h.client->heard());
  EXPECT_FALSE(h.client->reusable());
}

TEST(H2ClientTest, ARefusedStreamIsSaidToBeSafeToSendAgain) {
  // A server that takes no stream at all refuses each with REFUSED_STREAM.
  H2ServerLimits none;
  none.max_concurrent_streams = 0;
  bool called = false;
  Harness h(
      [&](std::shared_ptr<H2Exchange>) -> asio::awaitable<void> {
        called = true;
        co_return;
      },
      {}, none);
  std::vector<route::Header> no_fields;
  Exchange x;
  h.run([&]() -> asio::awaitable<void> { x = co_await fetch(*h.client, "/", "body", no_fields); });
  EXPECT_EQ(x.last, State::kError);
  EXPECT_TRUE(h.client->refused()) << x.error;
  EXPECT_EQ(x.error, "upstream refused the stream");
  EXPECT_FALSE(called);
  EXPECT_FALSE(h.client->reusable());
}

TEST(H2ClientTest, APeerThatClosesUnheardIsAnError) {
  asio::io_context io;
  auto up = std::make_shared<Half>(io.get_executor());
  auto down = std::make_shared<Half>(io.get_executor());
  down->closed = true;  // the upstream is gone before a byte
  H2Client client(io.get_executor(), end(down, up), {});
  std::vector<route::Header> none;
  Exchange x;
  bool done = false;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        x = co_await fetch(client, "/", "", none);
        done = true;
      },
      asio::detached);
  io.run_for(std::chrono::seconds(10));
  ASSERT_TRUE(done);
  EXPECT_EQ(x.last, State::kError);
  EXPECT_EQ(x.error, "upstream closed the connection");
  EXPECT_FALSE(client.heard());
  EXPECT_FALSE(client.refused());
  EXPECT_FALSE(client.reusable());
  EXPECT_FALSE(up->bytes.empty());  // the preface and the request went out
}

TEST(H2ClientTest, AnOversizedResponseHeadIsAnError) {
  Harness h(
      [&](std::shared_ptr<H2Exchange> x) -> asio::awaitable<void> {
        std::vector<route::Header> fields;
        for (int i = 0; i < 20; ++i) fields.push_back({"x-h" + std::to_string(i), std::string(100, 'v')});
        x->respond(200, fields, false);
        co_return;
      },
      H2ClientLimits{1000, 100, 1u << 20});
  std::vector<route::Header> none;
  Exchange x;
  h.run([&]() -> asio::awaitable<void> { x = co_await fetch(*h.client, "/", "", none); });
  EXPECT_EQ(x.last, State::kError);
  EXPECT_EQ(x.error, "upstream response head too large");
  EXPECT_FALSE(h.client->reusable());
}

}  // namespace
}  // namespace ambit::waypoint::http
