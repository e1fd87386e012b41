#include "common/log/log.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

namespace ambit::log {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sink_ = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    setSink(sink_);
    setDefaultLevel(Level::info);
  }
  std::ostringstream out_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
};

TEST_F(LogTest, LinesAreKeyValue) {
  auto l = scope("test.kv");
  info(*l, "connection_closed", "src", "198.18.0.1:4000", "bytes", 1234, "reason", "peer reset", "ok", true);
  std::string line = out_.str();
  EXPECT_NE(line.find(" level=info scope=test.kv msg=connection_closed src=198.18.0.1:4000 bytes=1234 "
                      "reason=\"peer reset\" ok=true\n"),
            std::string::npos)
      << line;
  EXPECT_EQ(line.find('Z'), 23u) << "timestamp must be UTC ISO-8601 with milliseconds: " << line;
}

TEST_F(LogTest, ValuesThatWouldBreakParsingAreQuoted) {
  EXPECT_EQ(quoteValue("plain"), "plain");
  EXPECT_EQ(quoteValue(""), "\"\"");
  EXPECT_EQ(quoteValue("a=b"), "\"a=b\"");
  EXPECT_EQ(quoteValue("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(quoteValue("two\nlines"), "\"two\\nlines\"");
  EXPECT_EQ(quoteValue(std::string("nul\0byte", 8)), "\"nul\\x00byte\"");
}

TEST_F(LogTest, LevelsChangeAtRuntime) {
  auto l = scope("test.levels");
  debug(*l, "hidden");
  EXPECT_EQ(out_.str().find("hidden"), std::string::npos);
  ASSERT_TRUE(setLevel("test.levels", Level::debug).ok());
  debug(*l, "shown");
  EXPECT_NE(out_.str().find("msg=shown"), std::string::npos);
  EXPECT_EQ(levels().at("test.levels"), Level::debug);
  EXPECT_FALSE(setLevel("no.such.scope", Level::debug).ok());
  setDefaultLevel(Level::err);
  warn(*l, "suppressed");
  EXPECT_EQ(out_.str().find("suppressed"), std::string::npos);
  setDefaultLevel(Level::info);
}

TEST_F(LogTest, ParsesLevelNames) {
  EXPECT_EQ(*parseLevel("warning"), Level::warn);
  EXPECT_EQ(*parseLevel("error"), Level::err);
  EXPECT_FALSE(parseLevel("loud").ok());
  EXPECT_EQ(levelName(Level::err), "error");
}

}  // namespace
}  // namespace ambit::log
