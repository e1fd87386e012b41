// The upstream HTTP/1.1 response reader: how a response ends, above all when
// the upstream closes (a body read to the close, against no response at all).
#include "waypoint/http/h1_response.h"

#include <gtest/gtest.h>

namespace ambit::waypoint::http {
namespace {

using State = H1ResponseReader::State;

TEST(H1ResponseTest, HowAResponseEnds) {
  {
    // Framed by its length; the head first, then the body.
    H1ResponseReader r(false, 8192);
    std::string data = "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nabc";
    std::string body;
    EXPECT_EQ(r.feed(data, body), State::kHead);
    EXPECT_EQ(r.head().status, 200);
    EXPECT_EQ(r.head().content_length, 3u);
    EXPECT_EQ(r.feed(data, body), State::kDone);
    EXPECT_EQ(body, "abc");
  }
  {
    // Read to the close: the close ends it.
    H1ResponseReader r(false, 8192);
    std::string data = "HTTP/1.1 200 OK\r\n\r\nsome";
    std::string body;
    EXPECT_EQ(r.feed(data, body), State::kHead);
    EXPECT_NE(r.feed(data, body), State::kError);
    EXPECT_EQ(r.finish(body), State::kDone);
    EXPECT_EQ(body, "some");
    EXPECT_FALSE(r.head().keep_alive);
  }
  {
    // Closed before a single byte: no response (not a complete one with status 0).
    H1ResponseReader r(false, 8192);
    std::string body;
    EXPECT_EQ(r.finish(body), State::kError);
    EXPECT_FALSE(r.headDone());
    EXPECT_NE(r.error(), "");
  }
  {
    // Closed within the head, or within a body of declared length.
    H1ResponseReader cut_head(false, 8192);
    std::string data = "HTTP/1.1 200 OK\r\ncontent-le", body;
    EXPECT_EQ(cut_head.feed(data, body), State::kNeedMore);
    EXPECT_EQ(cut_head.finish(body), State::kError);
    H1ResponseReader cut_body(false, 8192);
    data = "HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nabc";
    EXPECT_EQ(cut_body.feed(data, body), State::kHead);
    cut_body.feed(data, body);
    EXPECT_EQ(cut_body.finish(body), State::kError);
  }
}

}  // namespace
}  // namespace ambit::waypoint::http
