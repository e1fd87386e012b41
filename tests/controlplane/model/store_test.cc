#include "controlplane/model/store.h"

#include <gtest/gtest.h>

#include "controlplane/model/parse.h"

namespace ambit::controlplane {
namespace {

std::vector<Object> objects(const std::string& yaml, const std::string& file) {
  auto r = parseDocuments(yaml, file);
  EXPECT_TRUE(r.ok()) << (r.issues.empty() ? "" : r.issues[0].toString());
  return r.objects;
}

TEST(ModelStoreTest, ReplaceSwapsExactlyTheOwnersObjects) {
  ModelStore store;
  int changes = 0;
  store.onChange([&](auto) { ++changes; });
  ASSERT_TRUE(store.replace("a.yaml", objects("apiVersion: v1\nkind: Pod\nmetadata: {name: p1}\n---\n"
                                              "apiVersion: v1\nkind: Pod\nmetadata: {name: p2}\n",
                                              "a.yaml"))
                  .ok());
  ASSERT_TRUE(store.replace("b.yaml", objects("apiVersion: v1\nkind: Namespace\nmetadata: {name: demo}\n", "b.yaml"))
                  .ok());
  auto s1 = store.current();
  EXPECT_EQ(s1->pods.size(), 2u);
  EXPECT_EQ(s1->namespaces.size(), 1u);
  ASSERT_TRUE(store.replace("a.yaml", objects("apiVersion: v1\nkind: Pod\nmetadata: {name: p3}\n", "a.yaml")).ok());
  auto s2 = store.current();
  EXPECT_EQ(s2->pods.size(), 1u);
  EXPECT_TRUE(s2->pods.count("default/p3"));
  EXPECT_EQ(s2->namespaces.size(), 1u);
  EXPECT_GT(s2->version, s1->version);
  EXPECT_EQ(s1->pods.size(), 2u) << "old snapshots are immutable";
  store.remove("b.yaml");
  EXPECT_TRUE(store.current()->namespaces.empty());
  EXPECT_EQ(changes, 4);
}

TEST(ModelStoreTest, SameObjectFromTwoOwnersIsRejectedWhole) {
  ModelStore store;
  ASSERT_TRUE(store.replace("a.yaml", objects("apiVersion: v1\nkind: Pod\nmetadata: {name: p1}\n", "a.yaml")).ok());
  auto st = store.replace("b.yaml", objects("apiVersion: v1\nkind: Pod\nmetadata: {name: p9}\n---\n"
                                            "apiVersion: v1\nkind: Pod\nmetadata: {name: p1}\n",
                                            "b.yaml"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "Pod/default/p1 (b.yaml:5:1) is already declared in a.yaml");
  EXPECT_EQ(store.current()->pods.size(), 1u) << "nothing of b.yaml applied";
}

TEST(ModelStoreTest, DuplicateWithinOneOwnerIsRejected) {
  ModelStore store;
  auto st = store.replace("a.yaml", objects("apiVersion: v1\nkind: Pod\nmetadata: {name: p1}\n---\n"
                                            "apiVersion: v1\nkind: Pod\nmetadata: {name: p1}\n",
                                            "a.yaml"));
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message, "Pod/default/p1 is declared twice: a.yaml:1:1 and a.yaml:5:1");
}

}  // namespace
}  // namespace ambit::controlplane
