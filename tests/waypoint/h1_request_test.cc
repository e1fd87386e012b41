// hardening.md 7 at the waypoint's HTTP/1.1 reader: each smuggling trick is
// refused before anything could reach upstream; good requests (also split
// into single bytes, pipelined, chunked) are read whole; header limits give
// 431; a body is handed out as it is parsed, never held.
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

// The head, then the body into request.body: as the waypoint does, with the
// bytes given all at once or one at a time.
Read readAll(std::string bytes, H1Limits limits = {}, bool byte_by_byte = false) {
  H1RequestReader r(limits);
  Read out{State::kNeedMore, {}, 0, "", ""};
  std::string body;
  std::string pending;
  bool head = false;
  auto feed = [&]() {
    if (!head) {
      out.state = r.feedHead(pending);
      if (out.state != State::kHead) return;
      head = true;
    }
    out.state = r.feedBody(pending, body);
  };
  if (byte_by_byte) {
    for (char c : bytes) {
      pending += c;
      feed();
      if (out.state != State::kNeedMore) break;
    }
  } else {
    pending = bytes;
    feed();
  }
  out.rest = pending;
  if (out.state == State::kNeedMore || out.state == State::kHead) out.state = r.finish();
  if (out.state == State::kDone) {
    out.request = r.takeRequest();
    out.request.body = body;
  }
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

TEST(H1RequestTest, HeaderLimitsGive431AndACutRequestIs400) {
  H1Limits small;
  small.max_header_bytes = 200;
  small.max_headers = 3;
  small.max_body_bytes = 4;  // what is kept for a retry: not a limit on the body
  auto big_head = readAll("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(300, 'y') + "\r\n\r\n", small);
  EXPECT_EQ(big_head.status, 431);
  auto endless = readAll("GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(300, 'y'), small);  // never ends
  EXPECT_EQ(endless.status, 431);
  auto many = readAll("GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", small);
  EXPECT_EQ(many.status, 431);
  auto body = readAll("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nabcde", small);
  ASSERT_EQ(body.state, State::kDone) << body.reason;
  EXPECT_EQ(body.request.body, "abcde");
  auto chunked = readAll(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n", small);
  ASSERT_EQ(chunked.state, State::kDone) << chunked.reason;
  EXPECT_EQ(chunked.request.body, "abcde");
  // A head sent in pieces that each end inside a field name is still capped.
  {
    H1RequestReader r(small);
    std::string pending = "GET / HTTP/1.1\r\nHost: a\r\nX";
    State st = r.feedHead(pending);
    for (int i = 0; i < 1000 && st == State::kNeedMore; ++i) {
      pending += "-" + std::to_string(i) + ": v\r\nX";
      st = r.feedHead(pending);
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

// A body is handed out piece by piece as its bytes are given, nothing of it
// held by the reader, however large; the next pipelined request stays.
TEST(H1RequestTest, BodiesAreHandedOutAsTheyAreParsed) {
  const std::size_t size = 3 << 20;  // three times the default retry buffer
  {
    H1RequestReader r({});
    std::string data = "PUT /up HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(size) + "\r\n\r\n";
    ASSERT_EQ(r.feedHead(data), State::kHead);
    EXPECT_EQ(r.declaredLength(), size);
    EXPECT_TRUE(data.empty());
    std::size_t got = 0;
    for (std::size_t at = 0; at < size; at += 65536) {
      std::string piece(std::min<std::size_t>(65536, size - at), 'x');
      if (at + piece.size() == size) piece += "GET /next HTTP/1.1\r\nHost: a\r\n\r\n";
      std::string out;
      State st = r.feedBody(piece, out);
      got += out.size();
      EXPECT_LE(out.size(), 65536u);
      if (got < size) {
        ASSERT_EQ(st, State::kNeedMore) << r.errorReason();
        EXPECT_TRUE(piece.empty());
        EXPECT_FALSE(r.done());
      } else {
        ASSERT_EQ(st, State::kDone);
        EXPECT_EQ(piece, "GET /next HTTP/1.1\r\nHost: a\r\n\r\n");
        EXPECT_TRUE(r.done());
      }
    }
    EXPECT_EQ(got, size);
  }
  {
    // Chunked, split inside a chunk-size line and inside the trailers: the
    // length is not declared, the trailers are not headers.
    H1RequestReader r({});
    std::string data = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
    ASSERT_EQ(r.feedHead(data), State::kHead);
    EXPECT_EQ(r.declaredLength(), std::nullopt);
    std::string out;
    const char* pieces[] = {"1", "0\r\n0123456789abcdef", "\r\n3\r\nxyz\r\n0\r\nX-Tr", "ailer: 1\r\n\r\n"};
    State st = State::kNeedMore;
    std::string pending;  // what the reader left unused stays for the next call
    for (const char* p : pieces) {
      pending += p;
      st = r.feedBody(pending, out);
      if (st != State::kDone) {
        EXPECT_EQ(st, State::kNeedMore) << r.errorReason();
      }
    }
    EXPECT_EQ(st, State::kDone);
    EXPECT_EQ(out, "0123456789abcdefxyz");
    EXPECT_EQ(r.request().header("x-trailer"), "");
  }
  {
    // No body: done at once.
    H1RequestReader r({});
    std::string data = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    ASSERT_EQ(r.feedHead(data), State::kHead);
    EXPECT_EQ(r.declaredLength(), 0u);
    std::string out;
    EXPECT_EQ(r.feedBody(data, out), State::kDone);
    EXPECT_TRUE(out.empty());
  }
  {
    // A chunk that breaks the framing midway fails the body.
    H1RequestReader r({});
    std::string data = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n";
    ASSERT_EQ(r.feedHead(data), State::kHead);
    std::string out;
    EXPECT_EQ(r.feedBody(data, out), State::kNeedMore);
    EXPECT_EQ(out, "abc");
    std::string bad = "zz\r\n";
    EXPECT_EQ(r.feedBody(bad, out), State::kError);
    EXPECT_EQ(r.errorStatus(), 400);
  }
}

}  // namespace
}  // namespace ambit::waypoint::http
