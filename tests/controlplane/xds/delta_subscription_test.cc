// The delta-xDS subscription rules as tables of requests and resource sets.
#include "controlplane/xds/delta_subscription.h"

#include <gtest/gtest.h>

namespace ambit::controlplane::xds {
namespace {

using envoy::service::discovery::v3::DeltaDiscoveryRequest;

TypeResources resources(std::map<std::string, std::string> name_version,
                        std::map<std::string, std::string> aliases = {}) {
  TypeResources t;
  t.type_url = kAddressType;
  for (auto& [n, v] : name_version) t.by_name[n] = ResourceEntry{v, "body-" + n + v, {}};
  t.alias_to_name = std::move(aliases);
  return t;
}

DeltaDiscoveryRequest request(std::vector<std::string> sub, std::vector<std::string> unsub = {},
                              std::map<std::string, std::string> initial = {}) {
  DeltaDiscoveryRequest r;
  r.set_type_url(kAddressType);
  for (auto& s : sub) r.add_resource_names_subscribe(s);
  for (auto& u : unsub) r.add_resource_names_unsubscribe(u);
  for (auto& [k, v] : initial) (*r.mutable_initial_resource_versions())[k] = v;
  return r;
}

using Names = std::vector<std::string>;

TEST(DeltaSubscriptionTest, FirstRequestWithoutNamesIsWildcard) {
  auto res = resources({{"a", "1"}, {"b", "1"}});
  DeltaSubscription s;
  s.onRequest(request({}), true, &res);
  EXPECT_TRUE(s.wildcard());
  auto d = s.diff(res);
  EXPECT_EQ(d.upserts, (Names{"a", "b"}));
  EXPECT_TRUE(d.removed.empty());
  s.markSent(d, res);
  EXPECT_TRUE(s.diff(res).empty()) << "nothing new to send";
}

TEST(DeltaSubscriptionTest, OnlyChangedAndRemovedResourcesAreSent) {
  DeltaSubscription s;
  auto v1 = resources({{"a", "1"}, {"b", "1"}, {"c", "1"}});
  s.onRequest(request({}), true, &v1);
  s.markSent(s.diff(v1), v1);
  auto v2 = resources({{"a", "1"}, {"b", "2"}, {"d", "1"}});
  auto d = s.diff(v2);
  EXPECT_EQ(d.upserts, (Names{"b", "d"}));
  EXPECT_EQ(d.removed, (Names{"c"}));
}

TEST(DeltaSubscriptionTest, ReconnectWithInitialVersionsSkipsWhatTheClientHas) {
  auto res = resources({{"a", "1"}, {"b", "2"}});
  DeltaSubscription s;
  s.onRequest(request({}, {}, {{"a", "1"}, {"b", "1"}, {"gone", "7"}}), true, &res);
  auto d = s.diff(res);
  EXPECT_EQ(d.upserts, (Names{"b"}));
  EXPECT_EQ(d.removed, (Names{"gone"}));
}

TEST(DeltaSubscriptionTest, ExplicitNamesAndAliases) {
  auto res = resources({{"Kubernetes//Pod/demo/a", "1"}, {"demo/svc.demo.svc.cluster.local", "1"}},
                       {{"/198.18.1.10", "Kubernetes//Pod/demo/a"}});
  DeltaSubscription s;
  s.onRequest(request({"/198.18.1.10", "/198.18.9.9"}), true, &res);
  EXPECT_FALSE(s.wildcard());
  auto d = s.diff(res);
  EXPECT_EQ(d.upserts, (Names{"Kubernetes//Pod/demo/a"})) << "an alias resolves to its resource";
  EXPECT_EQ(d.removed, (Names{"/198.18.9.9"})) << "a name that does not exist is answered as removed";
  s.markSent(d, res);
  EXPECT_TRUE(s.diff(res).empty()) << "and only once";
}

TEST(DeltaSubscriptionTest, MissingNameIsSentWhenItAppears) {
  DeltaSubscription s;
  auto empty = resources({});
  s.onRequest(request({"x"}), true, &empty);
  s.markSent(s.diff(empty), empty);
  auto later = resources({{"x", "1"}});
  EXPECT_EQ(s.diff(later).upserts, (Names{"x"}));
}

TEST(DeltaSubscriptionTest, UnsubscribeForgets) {
  auto res = resources({{"a", "1"}, {"b", "1"}});
  DeltaSubscription s;
  s.onRequest(request({"a", "b"}), true, &res);
  s.markSent(s.diff(res), res);
  s.onRequest(request({}, {"a"}), false, &res);
  EXPECT_TRUE(s.diff(res).empty()) << "no removal is sent for what the client dropped itself";
  auto changed = resources({{"a", "2"}, {"b", "1"}});
  EXPECT_TRUE(s.diff(changed).empty()) << "changes to an unsubscribed resource are not sent";
  EXPECT_EQ(s.known().count("a"), 0u);
}

TEST(DeltaSubscriptionTest, WildcardCanBeAddedAndRemovedExplicitly) {
  auto res = resources({{"a", "1"}, {"b", "1"}});
  DeltaSubscription s;
  s.onRequest(request({"a"}), true, &res);
  EXPECT_EQ(s.diff(res).upserts, (Names{"a"}));
  s.onRequest(request({"*"}), false, &res);
  EXPECT_EQ(s.diff(res).upserts, (Names{"a", "b"}));
  s.onRequest(request({}, {"*"}), false, &res);
  EXPECT_FALSE(s.wildcard());
}

TEST(ResourceSetTest, VersionsFollowContent) {
  Translated t;
  istio::workload::Address a;
  a.mutable_workload()->set_uid("u1");
  a.mutable_workload()->add_addresses(std::string("\xc6\x12\x01\x0a", 4));
  (*a.mutable_workload()->mutable_services())["demo/b"].add_ports()->set_service_port(80);
  (*a.mutable_workload()->mutable_services())["demo/a"].add_ports()->set_service_port(81);
  t.addresses["u1"] = a;
  auto s1 = buildResourceSet(t, 1, {}, "");
  auto s2 = buildResourceSet(t, 2, {}, "");
  const auto& e1 = s1->find(kAddressType)->by_name.at("u1");
  EXPECT_EQ(e1.version, s2->find(kAddressType)->by_name.at("u1").version);
  EXPECT_EQ(e1.aliases, (std::vector<std::string>{"/198.18.1.10"}));
  EXPECT_EQ(s1->find(kAddressType)->resolve("/198.18.1.10"), "u1");
  t.addresses["u1"].mutable_workload()->set_node("n");
  EXPECT_NE(buildResourceSet(t, 3, {}, "")->find(kAddressType)->by_name.at("u1").version, e1.version);
}

}  // namespace
}  // namespace ambit::controlplane::xds
