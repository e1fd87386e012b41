// The delta-xDS subscription rules as tables of requests and resource sets.
#include "controlplane/xds/delta_subscription.h"

#include <gtest/gtest.h>

namespace ambit::controlplane::xds {
namespace {

using envoy::service::discovery::v3::DeltaDiscoveryRequest;

std::shared_ptr<TypeResources> resources(std::map<std::string, std::string> name_version,
                                         std::map<std::string, std::string> aliases = {}) {
  auto t = std::make_shared<TypeResources>();
  t->type_url = kAddressType;
  for (auto& [n, v] : name_version) t->by_name[n] = ResourceEntry{v, "body-" + n + v, {}, versionKey(v)};
  t->alias_to_name = std::move(aliases);
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
  s.onRequest(request({}), true, res.get());
  EXPECT_TRUE(s.wildcard());
  auto d = s.diff(res);
  EXPECT_EQ(d.upserts, (Names{"a", "b"}));
  EXPECT_TRUE(d.removed.empty());
  s.markSent(d, res, true);
  EXPECT_TRUE(s.diff(res).empty()) << "nothing new to send";
}

TEST(DeltaSubscriptionTest, OnlyChangedAndRemovedResourcesAreSent) {
  DeltaSubscription s;
  auto v1 = resources({{"a", "1"}, {"b", "1"}, {"c", "1"}});
  s.onRequest(request({}), true, v1.get());
  s.markSent(s.diff(v1), v1, true);
  auto v2 = resources({{"a", "1"}, {"b", "2"}, {"d", "1"}});
  auto d = s.diff(v2);
  EXPECT_EQ(d.upserts, (Names{"b", "d"}));
  EXPECT_EQ(d.removed, (Names{"c"}));
}

TEST(DeltaSubscriptionTest, ReconnectWithInitialVersionsSkipsWhatTheClientHas) {
  auto res = resources({{"a", "1"}, {"b", "2"}});
  DeltaSubscription s;
  s.onRequest(request({}, {}, {{"a", "1"}, {"b", "1"}, {"gone", "7"}}), true, res.get());
  auto d = s.diff(res);
  EXPECT_EQ(d.upserts, (Names{"b"}));
  EXPECT_EQ(d.removed, (Names{"gone"}));
}

TEST(DeltaSubscriptionTest, ExplicitNamesAndAliases) {
  auto res = resources({{"Kubernetes//Pod/demo/a", "1"}, {"demo/svc.demo.svc.cluster.local", "1"}},
                       {{"/198.18.1.10", "Kubernetes//Pod/demo/a"}});
  DeltaSubscription s;
  s.onRequest(request({"/198.18.1.10", "/198.18.9.9"}), true, res.get());
  EXPECT_FALSE(s.wildcard());
  auto d = s.diff(res);
  EXPECT_EQ(d.upserts, (Names{"Kubernetes//Pod/demo/a"})) << "an alias resolves to its resource";
  EXPECT_EQ(d.removed, (Names{"/198.18.9.9"})) << "a name that does not exist is answered as removed";
  s.markSent(d, res, true);
  EXPECT_TRUE(s.diff(res).empty()) << "and only once";
}

TEST(DeltaSubscriptionTest, MissingNameIsSentWhenItAppears) {
  DeltaSubscription s;
  auto empty = resources({});
  s.onRequest(request({"x"}), true, empty.get());
  s.markSent(s.diff(empty), empty, true);
  auto later = resources({{"x", "1"}});
  EXPECT_EQ(s.diff(later).upserts, (Names{"x"}));
}

TEST(DeltaSubscriptionTest, UnsubscribeForgets) {
  auto res = resources({{"a", "1"}, {"b", "1"}});
  DeltaSubscription s;
  s.onRequest(request({"a", "b"}), true, res.get());
  s.markSent(s.diff(res), res, true);
  s.onRequest(request({}, {"a"}), false, res.get());
  EXPECT_TRUE(s.diff(res).empty()) << "no removal is sent for what the client dropped itself";
  auto changed = resources({{"a", "2"}, {"b", "1"}});
  EXPECT_TRUE(s.diff(changed).empty()) << "changes to an unsubscribed resource are not sent";
  EXPECT_FALSE(s.holds("a"));
}

TEST(DeltaSubscriptionTest, WildcardCanBeAddedAndRemovedExplicitly) {
  auto res = resources({{"a", "1"}, {"b", "1"}});
  DeltaSubscription s;
  s.onRequest(request({"a"}), true, res.get());
  EXPECT_EQ(s.diff(res).upserts, (Names{"a"}));
  s.onRequest(request({"*"}), false, res.get());
  EXPECT_EQ(s.diff(res).upserts, (Names{"a", "b"}));
  s.onRequest(request({}, {"*"}), false, res.get());
  EXPECT_FALSE(s.wildcard());
}

// Sets in sequence, each with its change log from the one before (as the pusher builds them).
std::shared_ptr<TypeResources> next(const std::shared_ptr<TypeResources>& before,
                                    std::map<std::string, std::string> name_version, uint64_t version) {
  auto after = resources(std::move(name_version));
  after->set_version = version;
  ChangeLog log;
  log.from_version = before->set_version;
  for (const auto& [n, e] : after->by_name) {
    auto it = before->by_name.find(n);
    if (it == before->by_name.end() || it->second.key != e.key) log.changed.push_back(n);
  }
  for (const auto& [n, e] : before->by_name) {
    if (!after->by_name.count(n)) log.removed.push_back(n);
  }
  after->changes = log;
  return after;
}

TEST(DeltaSubscriptionTest, InStepClientIsDiffedByTheChangeLogAlone) {
  auto v1 = resources({{"a", "1"}, {"b", "1"}, {"c", "1"}});
  v1->set_version = 1;
  DeltaSubscription s;
  s.onRequest(request({}), true, v1.get());
  s.markSent(s.diff(v1), v1, true);
  EXPECT_EQ(s.heldCount(), 3u);
  auto v2 = next(v1, {{"a", "1"}, {"b", "2"}, {"d", "1"}}, 2);
  auto d = s.diff(v2);
  EXPECT_EQ(d.upserts, (Names{"b", "d"}));
  EXPECT_EQ(d.removed, (Names{"c"}));
  // The shortcut trusts the log: a set whose log (wrongly) omits a change shows
  // that only the logged names were looked at.
  auto lying = next(v1, {{"a", "9"}, {"b", "2"}, {"c", "1"}}, 2);
  lying->changes->changed = {"b"};
  EXPECT_EQ(s.diff(lying).upserts, (Names{"b"}));
  s.markSent(d, v2, true);
  EXPECT_TRUE(s.diff(v2).empty());
  EXPECT_EQ(s.heldCount(), 3u);
  EXPECT_TRUE(s.holds("d"));
  EXPECT_FALSE(s.holds("c"));
}

TEST(DeltaSubscriptionTest, ClientThatSkippedASetGetsAFullDiff) {
  auto v1 = resources({{"a", "1"}, {"b", "1"}});
  v1->set_version = 1;
  DeltaSubscription s;
  s.onRequest(request({}), true, v1.get());
  s.markSent(s.diff(v1), v1, true);
  auto v2 = next(v1, {{"a", "2"}, {"b", "1"}}, 2);
  auto v3 = next(v2, {{"a", "2"}, {"b", "3"}}, 3);  // its log is relative to v2, which this client never saw
  EXPECT_EQ(s.diff(v3).upserts, (Names{"a", "b"}));
}

TEST(DeltaSubscriptionTest, ResponseCutShortSendsTheRestNext) {
  auto v1 = resources({{"a", "1"}, {"b", "1"}, {"c", "1"}});
  DeltaSubscription s;
  s.onRequest(request({}), true, v1.get());
  Delta part;
  part.upserts = {"a"};
  s.markSent(part, v1, false);
  EXPECT_EQ(s.diff(v1).upserts, (Names{"b", "c"}));
  EXPECT_EQ(s.heldCount(), 1u);
}

TEST(DeltaSubscriptionTest, UnsubscribingFromWildcardRemovesWhatIsNotNamed) {
  auto v1 = resources({{"a", "1"}, {"b", "1"}});
  DeltaSubscription s;
  s.onRequest(request({}), true, v1.get());
  s.markSent(s.diff(v1), v1, true);
  s.onRequest(request({"a"}, {"*"}), false, v1.get());
  auto d = s.diff(v1);
  EXPECT_TRUE(d.upserts.empty());
  EXPECT_EQ(d.removed, (Names{"b"}));
  s.markSent(d, v1, true);
  EXPECT_TRUE(s.holds("a"));
  EXPECT_FALSE(s.holds("b"));
  EXPECT_EQ(s.heldCount(), 1u);
  EXPECT_TRUE(s.diff(v1).empty());
  auto v2 = resources({{"a", "2"}, {"b", "2"}});
  EXPECT_EQ(s.diff(v2).upserts, (Names{"a"}));
}

TEST(ResourceSetTest, ChangeLogAgainstThePreviousSet) {
  Translated t;
  istio::workload::Address a;
  a.mutable_workload()->set_uid("u1");
  t.addresses["u1"] = a;
  a.mutable_workload()->set_uid("u2");
  t.addresses["u2"] = a;
  auto s1 = buildResourceSet(t, 1, {}, "");
  EXPECT_FALSE(s1->find(kAddressType)->changes);
  t.addresses["u1"].mutable_workload()->set_node("n");
  t.addresses.erase("u2");
  a.mutable_workload()->set_uid("u3");
  t.addresses["u3"] = a;
  auto s2 = buildResourceSet(t, 2, {}, "", s1.get());
  const auto& log = s2->find(kAddressType)->changes;
  ASSERT_TRUE(log);
  EXPECT_EQ(log->from_version, 1u);
  EXPECT_EQ(log->changed, (Names{"u1", "u3"}));
  EXPECT_EQ(log->removed, (Names{"u2"}));
  EXPECT_TRUE(s2->find(kAuthorizationType)->changes->changed.empty());
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
