#include "common/runtime/balance.h"

#include <gtest/gtest.h>

#include <vector>

namespace ambit::runtime {
namespace {

TEST(LeastLoadedTest, Table) {
  struct Case {
    const char* name;
    std::vector<std::size_t> live;
    std::size_t accepting;
    std::size_t want;
  };
  const Case cases[] = {
      {"one worker", {7}, 0, 0},
      {"all idle: the accepting worker keeps it", {0, 0, 0}, 2, 2},
      {"tie at the minimum: the accepting worker keeps it", {1, 0, 0}, 2, 2},
      {"the accepting worker is busier: the idle one", {1, 0}, 0, 1},
      {"the kernel's hash put both long connections on worker 0", {1, 0}, 0, 1},
      {"the first of several smallest when the accepting one is busier", {3, 1, 1, 2}, 3, 1},
      {"an accepting worker past the end: the first smallest", {2, 1, 1}, 9, 1},
      {"big counts", {100000, 99999}, 0, 1},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(leastLoaded(c.live, c.accepting), c.want) << c.name;
  }
}

}  // namespace
}  // namespace ambit::runtime
