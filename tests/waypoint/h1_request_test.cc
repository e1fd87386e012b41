// hardening.md 7 at the waypoint's HTTP/1.1 reader: each smuggling trick is
// refused before anything could reach upstream; good requests (also split
// into single bytes, pipelined, chunked) are read whole; limits give 431/413.
#include "waypoint/http/h1_request.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace ambit::waypoint::http {
namespace {

using State = H1RequestReader::State;

struct Read {
  State state;
  Request request;
  int status = 0;
  std::string reason;
  std::string rest;  // bytes left after the request
};

Read readAll(std::string bytes, H1Limits limits = {}, bool byte_by_byte = false) {
  H1RequestReader r(limits);
  Read out{State::kNeedMore, {}, 0, "", ""};
  if (byte_by_byte) {
    std::string pending;
    for (char c : bytes) {
      pending += c;
      out.state = r.feed(pending);
      if (out.state != State::kNeedMore) break;
    }
    out.rest = pending;
  } else {
    out.state = r.feed(bytes);
    out.rest = bytes;
  }
  if (out.state == State::kNeedMore) out.state = r.finish();
  if (out.state == State::kDone) out.request = r.takeRequest();
  out.status = r.errorStatus();
  out.reason = r.errorReason();
  return out;
}

TEST(H1RequestTest, SmugglingTricksAreRefused) {
  struct Case {
    const char* what;
    std::string bytes;
    const char* reason;
  } cases[] = {
      {"CL + TE",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       ""},  // Beast refuses it first ("bad Transfer-Encoding"); framingProblem would too
      {"TE + CL order",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", ""},
      {"obfuscated TE: list",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", ""},
      {"obfuscated TE: xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", ""},
      {"obfuscated TE: vertical tab",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0b"
       "chunked\r\n\r\n0\r\n\r\n",
       ""},
      {"two TE headers",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", ""},
      {"TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "HTTP/1.0"},
      {"two Content-Length",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", ""},
      {"bare LF", "GET / HTTP/1.1\nHost: a\n\n", "bare LF"},
      {"bare LF in one header", "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", "bare LF"},
      {"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", ""},
      {"tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", ""},
      {"no Host", "GET / HTTP/1.1\r\n\r\n", "no Host"},
      {"two Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "more than one Host"},
      {"bad chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n", ""},
      {"negative length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", ""},
      {"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", ""},
      {"obs-fold TE", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n",
       "folding"},
      {"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc", ""},
  };
  for (const auto& c : cases) {
    for (bool bytewise : {false, true}) {
      auto r = readAll(c.bytes, {}, bytewise);
      EXPECT_EQ(r.state, State::kError) << c.what << (bytewise ? " (byte by byte)" : "");
      EXPECT_EQ(r.status, 400) << c.what;
      EXPECT_THAT(r.reason, ::testing::HasSubstr(c.reason)) << c.what;
    }
  }
}

TEST(FramingProblemTest, Table) {
  using H = std::vector<route::Header>;
  EXPECT_EQ(framingProblem(H{{"host", "a"}}, 11), "");
  EXPECT_EQ(framingProblem(H{{"host", "a"}, {"transfer-encoding", " Chunked\t"}}, 11), "");
  EXPECT_EQ(framingProblem(H{{"host", "a"}, {"content-length", "1"}, {"transfer-encoding", "chunked"}}, 11),
            "both Content-Length and Transfer-Encoding");
  EXPECT_EQ(framingProblem(H{{"host", "a"}, {"transfer-encoding", "gzip, chunked"}}, 11),
            "Transfer-Encoding other than chunked");
  EXPECT_EQ(framingProblem(H{{"host", "a"}, {"content-length", "1"}, {"content-length", "1"}}, 11),
            "more than one Content-Length");
  EXPECT_EQ(framingProblem(H{}, 10), "");
  EXPECT_EQ(framingProblem(H{}, 11), "no Host header");
}

TEST(H1RequestTest, GoodRequestsAreReadWhole) {
  for (bool bytewise : {false, true}) {
    auto r = readAll(
        "POST /items?id=7 HTTP/1.1\r\nHost: Shop.Demo\r\nX-Multi: a\r\nx-multi: b\r\n"
        "Transfer-Encoding: Chunked \r\n\r\n4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"
        "GET /next HTTP/1.1\r\nHost: x\r\n\r\n",
        {}, bytewise);
    ASSERT_EQ(r.state, State::kDone) << r.reason;
    EXPECT_EQ(r.request.method, "POST");
    EXPECT_EQ(r.request.target, "/items?id=7");
    EXPECT_EQ(r.request.body, "Wikipedia");
    EXPECT_EQ(r.request.header("host"), "Shop.Demo");
    EXPECT_EQ(r.request.headers[1].name, "x-multi");
    EXPECT_EQ(r.request.headers[2].value, "b");
    EXPECT_TRUE(r.request.keep_alive);
    if (!bytewise) {
      EXPECT_EQ(r.rest, "GET /next HTTP/1.1\r\nHost: x\r\n\r\n");  // the pipelined next request stays
    }
  }
  // Trailers are not promoted to headers, however the bytes are split.
  for (bool bytewise : {false, true}) {
    auto t = readAll(
        "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\nX-Admin: 1\r\n\r\n",
        {}, bytewise);
    ASSERT_EQ(t.state, State::kDone) << t.reason;
    EXPECT_EQ(t.request.header("x-admin"), "");
    EXPECT_EQ(t.request.body, "z");
  }
  auto old = readAll("GET / HTTP/1.0\r\n\r\n");
  ASSERT_EQ(old.state, State::kDone);
  EXPECT_FALSE(old.request.keep_alive);
  auto cl = readAll("PUT /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc");
  ASSERT_EQ(cl.state, State::kDone);
  EXPECT_EQ(cl.request.body, "abc");
  EXPECT_FALSE(cl.request.keep_alive);
}

TEST(H1RequestTest, LimitsGive431And413AndACutRequestIs400) {
  H1Limits small;
  small.max_header_bytes = 200;
  small.max_headers = 3;
  small.max_body_bytes = 4;
  auto big_head = readAll("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(300, 'y') + "\r\n\r\n", small);
  EXPECT_EQ(big_head.status, 431);
  auto endless = readAll("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(300, 'y'), small);  // never ends
  EXPECT_EQ(endless.status, 431);
  auto many = readAll("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", small);
  EXPECT_EQ(many.status, 431);
  auto body = readAll("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nabcde", small);
  EXPECT_EQ(body.status, 413);
  auto chunked = readAll(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n", small);
  EXPECT_EQ(chunked.status, 413);
  // A head sent in pieces that each end inside a field name is still capped.
  {
    H1RequestReader r(small);
    std::string pending = "GET / HTTP/1.1\r\nHost: a\r\nX";
    State st = r.feed(pending);
    for (int i = 0; i < 1000 && st == State::kNeedMore; ++i) {
      pending += "-" + std::to_string(i) + ": v\r\nX";
      st = r.feed(pending);
    }
    EXPECT_EQ(st, State::kError);
    EXPECT_EQ(r.errorStatus(), 431);
  }
  // A chunk-size line that never ends is refused, not buffered forever.
  auto endless_chunk = readAll("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;" +
                               std::string(100000, 'a'));
  EXPECT_EQ(endless_chunk.status, 400);
  auto cut = readAll("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab");
  EXPECT_EQ(cut.state, State::kError);
  EXPECT_EQ(cut.status, 400);
}

}  // namespace
}  // namespace ambit::waypoint::http
