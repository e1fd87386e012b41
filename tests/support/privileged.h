// Privileged tests (eBPF, network namespaces, cgroups) need root. Outside CI they
// skip with a reason; with CI=true a skip would hide a failure, so they fail.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

namespace ambit::testing {

inline bool inCi() {
  const char* ci = std::getenv("CI");
  return ci != nullptr && std::string(ci) == "true";
}

}  // namespace ambit::testing

// Use at the top of a test body: AMBIT_REQUIRE_ROOT();
#define AMBIT_REQUIRE_ROOT()                                                                   \
  do {                                                                                         \
    if (::geteuid() != 0) {                                                                    \
      if (::ambit::testing::inCi()) FAIL() << "privileged test needs root and CI=true forbids skipping"; \
      GTEST_SKIP() << "needs root (eBPF, netns or cgroups); run the tests as root";            \
    }                                                                                          \
  } while (0)
