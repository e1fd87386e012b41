#include "common/base/result.h"

#include <gtest/gtest.h>

namespace ambit {
namespace {

Result<int> half(int v) {
  if (v % 2) return makeError(ErrorCode::kInvalidArgument, "{} is odd", v);
  return v / 2;
}

TEST(ResultTest, CarriesValueOrError) {
  auto ok = half(4);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 2);
  auto bad = half(3);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message, "3 is odd");
}

TEST(ResultTest, WrapAddsContext) {
  Error e = half(5).error().wrap("halving input");
  EXPECT_EQ(e.message, "halving input: 5 is odd");
  EXPECT_STREQ(errorCodeName(e.code), "invalid_argument");
}

TEST(ResultTest, StatusDefaultsToOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  Status bad = makeError(ErrorCode::kUnavailable, "down");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "down");
}

}  // namespace
}  // namespace ambit
