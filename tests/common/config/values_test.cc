#include "common/config/values.h"

#include <gtest/gtest.h>

namespace ambit::config {
namespace {

using std::chrono::milliseconds;

TEST(DurationTest, ParsesTable) {
  struct Case {
    const char* text;
    int64_t ms;
  } cases[] = {{"0s", 0}, {"250ms", 250}, {"10s", 10000}, {"5m", 300000}, {"1h", 3600000}, {"1m30s", 90000},
               {"2h3m4s5ms", 7384005}};
  for (const auto& c : cases) {
    auto d = parseDuration(c.text);
    ASSERT_TRUE(d.ok()) << c.text << ": " << d.error().message;
    EXPECT_EQ(d->count(), c.ms) << c.text;
  }
}

TEST(DurationTest, RejectsTable) {
  for (const char* bad : {"", "10", "s", "10x", "-5s", "1.5s", "10 s", "ms10", "99999999999999999999h"}) {
    EXPECT_FALSE(parseDuration(bad).ok()) << "'" << bad << "' should be rejected";
  }
}

TEST(DurationTest, FormatsInLargestExactUnit) {
  EXPECT_EQ(formatDuration(milliseconds(0)), "0s");
  EXPECT_EQ(formatDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(formatDuration(milliseconds(120000)), "2m");
  EXPECT_EQ(formatDuration(milliseconds(7200000)), "2h");
}

TEST(CodecTest, IntegersAreStrict) {
  EXPECT_EQ(*Codec<uint16_t>::fromText("15000"), 15000);
  EXPECT_FALSE(Codec<uint16_t>::fromText("70000").ok());
  EXPECT_FALSE(Codec<uint16_t>::fromText("-1").ok());
  EXPECT_FALSE(Codec<int32_t>::fromText("12abc").ok());
  EXPECT_FALSE(Codec<int32_t>::fromText("").ok());
  EXPECT_FALSE(Codec<int32_t>::fromYaml(YAML::Load("[1, 2]")).ok());
}

TEST(CodecTest, NumbersMustBeFinite) {
  EXPECT_DOUBLE_EQ(*Codec<double>::fromText("0.25"), 0.25);
  EXPECT_FALSE(Codec<double>::fromText("nan").ok());
  EXPECT_FALSE(Codec<double>::fromText("inf").ok());
}

TEST(CodecTest, BoolsAreStrictInYaml) {
  EXPECT_TRUE(*Codec<bool>::fromYaml(YAML::Load("true")));
  EXPECT_FALSE(*Codec<bool>::fromYaml(YAML::Load("false")));
  // YAML 1.1's yes/on are a classic source of surprises; we refuse them.
  EXPECT_FALSE(Codec<bool>::fromYaml(YAML::Load("yes")).ok());
  EXPECT_TRUE(*Codec<bool>::fromText("1"));
}

TEST(CodecTest, ListsFromYamlAndText) {
  auto l = Codec<std::vector<std::string>>::fromYaml(YAML::Load("[a, b]"));
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(*l, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*Codec<std::vector<std::string>>::fromText("x,y,z"), (std::vector<std::string>{"x", "y", "z"}));
  EXPECT_FALSE(Codec<std::vector<std::string>>::fromYaml(YAML::Load("{a: 1}")).ok());
}

}  // namespace
}  // namespace ambit::config
