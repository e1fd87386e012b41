// Builds a model snapshot from YAML for translation tests.
#pragma once

#include <gtest/gtest.h>

#include "controlplane/model/parse.h"
#include "controlplane/model/store.h"

namespace ambit::controlplane::testutil {

inline Snapshot snapshotOf(const std::string& yaml) {
  auto r = parseDocuments(yaml, "test.yaml");
  EXPECT_TRUE(r.ok()) << (r.issues.empty() ? "" : r.issues[0].toString());
  Snapshot s;
  for (const auto& o : r.objects) EXPECT_TRUE(s.insert(o)) << objectKey(o);
  return s;
}

inline std::string ip4(unsigned a, unsigned b, unsigned c, unsigned d) {
  return std::string{static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), static_cast<char>(d)};
}

}  // namespace ambit::controlplane::testutil
