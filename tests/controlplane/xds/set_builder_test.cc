// SetBuilder must produce what buildResourceSet(translate(...)) produces, for
// every snapshot of a sequence of edits, while translating only affected pods.
#include "controlplane/xds/set_builder.h"

#include <gtest/gtest.h>

#include "controlplane/model/parse.h"
#include "controlplane/model/store.h"

namespace ambit::controlplane::xds {
namespace {

std::vector<Object> parse(const std::string& yaml) {
  auto r = parseDocuments(yaml, "t.yaml");
  EXPECT_TRUE(r.ok()) << (r.issues.empty() ? "" : r.issues[0].toString());
  return r.objects;
}

std::string pods(const std::string& ns, int n, const std::string& version) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    out += "---\napiVersion: v1\nkind: Pod\nmetadata: {name: p" + std::to_string(i) + ", namespace: " + ns +
           ", labels: {app: web, version: " + version + "}}\nspec: {serviceAccountName: web, nodeName: node-" +
           std::to_string(i % 2) + "}\nstatus: {podIP: 198.18." + std::to_string(ns.size()) + "." +
           std::to_string(i + 1) + "}\n";
  }
  return out;
}

void expectSameSets(const ResourceSet& want, const ResourceSet& got) {
  for (const char* type : {kAddressType, kAuthorizationType, kRouteType}) {
    const TypeResources* w = want.find(type);
    const TypeResources* g = got.find(type);
    ASSERT_TRUE(w && g) << type;
    ASSERT_EQ(w->by_name.size(), g->by_name.size()) << type;
    for (const auto& [name, e] : w->by_name) {
      auto it = g->by_name.find(name);
      ASSERT_NE(it, g->by_name.end()) << type << " " << name;
      EXPECT_EQ(it->second.version, e.version) << type << " " << name;
      EXPECT_EQ(it->second.aliases, e.aliases) << type << " " << name;
    }
    EXPECT_EQ(w->alias_to_name, g->alias_to_name) << type;
  }
}

TEST(SetBuilderTest, SameResultAsFullTranslationAcrossEdits) {
  ModelStore store;
  MeshSettings mesh;
  SetBuilder builder(mesh);
  std::shared_ptr<const ResourceSet> previous;
  SetBuilder::Stats stats;
  auto step = [&](const std::string& what) {
    SCOPED_TRACE(what);
    auto snap = store.current();
    stats = {};
    auto got = builder.build(*snap, {}, previous.get(), &stats);
    auto want = buildResourceSet(translate(*snap, mesh), snap->version, {}, mesh.network, previous.get());
    expectSameSets(*want, *got);
    previous = got;
  };
  const std::string ns_a =
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {istio.io/dataplane-mode: ambient}}\n";
  const std::string ns_b = "apiVersion: v1\nkind: Namespace\nmetadata: {name: bb}\n";
  ASSERT_TRUE(store.replace("ns-a.yaml", parse(ns_a)));
  ASSERT_TRUE(store.replace("ns-b.yaml", parse(ns_b)));
  ASSERT_TRUE(store.replace("a.yaml", parse(pods("a", 5, "v1"))));
  ASSERT_TRUE(store.replace("b.yaml", parse(pods("bb", 5, "v1"))));
  step("initial");
  EXPECT_EQ(stats.pods_translated, 10u);

  step("nothing changed");
  EXPECT_EQ(stats.pods_translated, 0u);
  EXPECT_EQ(stats.pods_reused, 10u);

  ASSERT_TRUE(store.replace("a.yaml", parse(pods("a", 5, "v2"))));
  step("every pod of a relabelled");
  EXPECT_EQ(stats.pods_translated, 5u);  // namespace bb untouched

  ASSERT_TRUE(store.replace("svc.yaml", parse("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: a}\n"
                                              "spec: {clusterIP: 198.19.0.1, selector: {app: web}, ports: [{port: 80}]}\n")));
  step("a Service selects a's pods");
  EXPECT_EQ(stats.pods_translated, 5u);

  ASSERT_TRUE(store.replace("pa.yaml", parse("apiVersion: security.istio.io/v1\nkind: PeerAuthentication\n"
                                             "metadata: {name: default, namespace: istio-system}\nspec: {mtls: {mode: STRICT}}\n")));
  step("mesh-wide STRICT: every pod's policies change");
  EXPECT_EQ(stats.pods_translated, 10u);

  ASSERT_TRUE(store.replace("ap.yaml", parse("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\n"
                                             "metadata: {name: web, namespace: bb}\nspec: {selector: {matchLabels: {app: web}}}\n")));
  step("a selector policy in bb");
  EXPECT_EQ(stats.pods_translated, 5u);

  // (Objects are compared by identity: re-reading a file makes all of its objects new.)
  ASSERT_TRUE(store.replace("ns-b.yaml", parse("apiVersion: v1\nkind: Namespace\n"
                                               "metadata: {name: bb, labels: {istio.io/dataplane-mode: ambient}}\n")));
  step("bb enrolled");
  EXPECT_EQ(stats.pods_translated, 5u);

  store.remove("b.yaml");
  step("bb's pods deleted");
  EXPECT_EQ(stats.pods_translated, 0u);
  EXPECT_EQ(previous->find(kAddressType)->changes->removed.size(), 5u);
}

}  // namespace
}  // namespace ambit::controlplane::xds
