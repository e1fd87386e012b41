#include <gtest/gtest.h>

#include "common/config/loader.h"
#include "common/config/schema.h"

namespace ambit::config {
namespace {

using std::chrono::milliseconds;

struct TestConfig {
  struct Admin {
    std::string address = "127.0.0.1";
    uint16_t port = 15000;
  } admin;
  uint32_t workers = 2;
  milliseconds drain_deadline{5000};
  std::vector<std::string> trust_domains{"cluster.local"};
  bool enable_ipv6 = false;
  enum class Mode { kShared, kInPod } mode = Mode::kShared;
};

Schema<TestConfig> schema() {
  Schema<TestConfig> s("testd");
  s.field<std::string>("admin.address", "admin bind address", [](TestConfig& c) -> auto& { return c.admin.address; },
                       ipAddress())
      .field<uint16_t>("admin.port", "admin port", [](TestConfig& c) -> auto& { return c.admin.port; })
      .field<uint32_t>("workers", "worker threads", [](TestConfig& c) -> auto& { return c.workers; },
                       inRange<uint32_t>(1, 64))
      .field<milliseconds>("drain_deadline", "drain deadline", [](TestConfig& c) -> auto& { return c.drain_deadline; },
                           positiveDuration())
      .field<std::vector<std::string>>("trust_domains", "trust domains",
                                       [](TestConfig& c) -> auto& { return c.trust_domains; })
      .field<bool>("enable_ipv6", "IPv6", [](TestConfig& c) -> auto& { return c.enable_ipv6; })
      .enumField<TestConfig::Mode>("mode", "listener mode", [](TestConfig& c) -> auto& { return c.mode; },
                                   {{"shared", TestConfig::Mode::kShared}, {"in-pod", TestConfig::Mode::kInPod}})
      .validate([](const TestConfig& c) {
        std::vector<ConfigIssue> out;
        if (c.admin.address != "127.0.0.1" && c.admin.address != "::1" && c.admin.port == 15000) {
          out.push_back({"", "admin.address", "a non-loopback admin address needs a non-default port"});
        }
        return out;
      });
  return s;
}

LoadOutcome<TestConfig> fromYaml(const std::string& yaml, Environment env = {},
                                 std::vector<std::pair<std::string, std::string>> flags = {}) {
  LoadInputs in;
  in.yaml_text = yaml;
  in.yaml_name = "testd.yaml";
  in.env = std::move(env);
  in.flags = std::move(flags);
  return load(schema(), in);
}

TEST(ConfigTest, DefaultsWhenNothingIsGiven) {
  auto out = fromYaml("");
  ASSERT_TRUE(out.ok()) << out.describeIssues("testd");
  EXPECT_EQ(out.config->admin.port, 15000);
  EXPECT_EQ(out.config->workers, 2u);
  EXPECT_EQ(out.origins[1].where, "default");
}

TEST(ConfigTest, ReadsNestedFieldsAndRecordsWhere) {
  auto out = fromYaml("admin:\n  port: 16000\nworkers: 4\ndrain_deadline: 1m\nmode: in-pod\n"
                      "trust_domains: [a.example, b.example]\n");
  ASSERT_TRUE(out.ok()) << out.describeIssues("testd");
  EXPECT_EQ(out.config->admin.port, 16000);
  EXPECT_EQ(out.config->workers, 4u);
  EXPECT_EQ(out.config->drain_deadline, milliseconds(60000));
  EXPECT_EQ(out.config->mode, TestConfig::Mode::kInPod);
  EXPECT_EQ(out.config->trust_domains.size(), 2u);
  EXPECT_EQ(out.origins[1].where, "testd.yaml:2:3");
}

struct BadCase {
  const char* yaml;
  const char* expected;  // the whole first issue, file:line:col included
};

TEST(ConfigTest, ErrorsNameFileLineAndField) {
  const BadCase cases[] = {
      {"admin:\n  port: abc\n", "testd.yaml:2:9: field 'admin.port': expected integer (0-65535), got 'abc'"},
      {"admin:\n  prot: 1\n", "testd.yaml:2:3: field 'admin.prot': unknown field (did you mean 'admin.port'?)"},
      {"workers: 0\n", "testd.yaml:1:10: field 'workers': must be between 1 and 64, got 0"},
      {"workers: 2\nworkers: 3\n", "testd.yaml:2:1: field 'workers': set twice in the same mapping"},
      {"drain_deadline: 10\n",
       "testd.yaml:1:17: field 'drain_deadline': expected a duration such as 500ms, 10s, 5m or 1h30m, got '10'"},
      {"mode: sidecar\n", "testd.yaml:1:7: field 'mode': expected one of shared, in-pod, got 'sidecar'"},
      {"admin: 5\n", "testd.yaml:1:8: field 'admin': expected a mapping of fields"},
      {"admin:\n  address: not-an-ip\n",
       "testd.yaml:2:12: field 'admin.address': expected an IPv4 or IPv6 address, got 'not-an-ip'"},
      {"enable_ipv6: yes\n", "testd.yaml:1:14: field 'enable_ipv6': expected true or false, got 'yes'"},
      {"- a\n- b\n", "testd.yaml:1:1: the config must be a mapping of fields"},
      {"admin: {port: 1\n", "testd.yaml:2:1: YAML syntax error: end of map flow not found"},
      {"admin.port: 1\n", "testd.yaml:1:1: field 'admin.port': dotted keys are not allowed; write nested mappings instead"},
      {"admin:\n  address: 198.18.0.1\n",
       "testd.yaml:2:3: field 'admin.address': a non-loopback admin address needs a non-default port"},
  };
  for (const auto& c : cases) {
    auto out = fromYaml(c.yaml);
    ASSERT_FALSE(out.ok()) << c.yaml;
    ASSERT_FALSE(out.issues.empty());
    EXPECT_EQ(out.issues[0].toString(), c.expected) << "for YAML:\n" << c.yaml;
  }
}

TEST(ConfigTest, AllIssuesAreReportedAndNothingIsApplied) {
  auto out = fromYaml("admin:\n  port: 99999\nworkers: x\nbogus: 1\n");
  EXPECT_FALSE(out.config.has_value());
  ASSERT_EQ(out.issues.size(), 3u);
  EXPECT_NE(out.describeIssues("testd").find("3 problems in the testd config:"), std::string::npos);
}

TEST(ConfigTest, EnvironmentOverridesFileAndFlagsOverrideEnvironment) {
  auto out = fromYaml("admin:\n  port: 16000\nworkers: 3\n", {{"AMBIT_ADMIN_PORT", "17000"}, {"AMBIT_WORKERS", "5"}},
                      {{"workers", "6"}});
  ASSERT_TRUE(out.ok()) << out.describeIssues("testd");
  EXPECT_EQ(out.config->admin.port, 17000);
  EXPECT_EQ(out.config->workers, 6u);
  EXPECT_EQ(out.origins[1].where, "AMBIT_ADMIN_PORT");
  EXPECT_EQ(out.origins[2].where, "--workers");
}

TEST(ConfigTest, BadEnvironmentAndFlagValuesNameTheirSource) {
  auto out = fromYaml("", {{"AMBIT_ADMIN_PORT", "x"}}, {{"workers", "100"}, {"admin.prot", "1"}});
  ASSERT_EQ(out.issues.size(), 3u);
  EXPECT_EQ(out.issues[0].toString(),
            "environment variable AMBIT_ADMIN_PORT: field 'admin.port': expected integer (0-65535), got 'x'");
  EXPECT_EQ(out.issues[1].toString(), "flag --workers: field 'workers': must be between 1 and 64, got 100");
  EXPECT_EQ(out.issues[2].toString(),
            "flag --admin.prot: field 'admin.prot': unknown field (did you mean 'admin.port'?)");
}

TEST(ConfigTest, UnknownEnvironmentVariablesAreWarnedAbout) {
  auto out = fromYaml("", {{"AMBIT_ADMN_PORT", "1"}, {"HOME", "/root"}});
  ASSERT_TRUE(out.ok());
  ASSERT_EQ(out.warnings.size(), 1u);
  EXPECT_NE(out.warnings[0].find("AMBIT_ADMN_PORT"), std::string::npos);
}

TEST(ConfigTest, MissingFileIsAnError) {
  LoadInputs in;
  in.file = "/nonexistent/ambit-test.yaml";
  auto out = load(schema(), in);
  ASSERT_EQ(out.issues.size(), 1u);
  EXPECT_EQ(out.issues[0].where, "/nonexistent/ambit-test.yaml");
}

TEST(ConfigTest, PrintedConfigShowsValuesAndSources) {
  auto out = fromYaml("workers: 3\n", {{"AMBIT_ADMIN_PORT", "17000"}});
  ASSERT_TRUE(out.ok());
  auto s = schema();
  std::string text = renderEffective(s, &*out.config, out.origins);
  EXPECT_NE(text.find("port: 17000  # AMBIT_ADMIN_PORT"), std::string::npos) << text;
  EXPECT_NE(text.find("workers: 3  # testd.yaml:1:1"), std::string::npos) << text;
  EXPECT_NE(text.find("drain_deadline: 5s  # default"), std::string::npos) << text;
  EXPECT_NE(text.find("mode: shared"), std::string::npos) << text;
  EXPECT_NE(text.find("trust_domains: [cluster.local]  # default"), std::string::npos) << text;
  // What we print must load back to the same config.
  LoadInputs again;
  again.yaml_text = text;
  auto round = load(s, again);
  ASSERT_TRUE(round.ok()) << round.describeIssues("testd");
  EXPECT_EQ(round.config->admin.port, 17000);
  EXPECT_EQ(round.config->workers, 3u);
}

TEST(ConfigTest, EffectiveJsonNestsValuesAndListsSources) {
  auto out = fromYaml("admin:\n  port: 16000\n");
  ASSERT_TRUE(out.ok());
  auto s = schema();
  auto j = effectiveJson(s, &*out.config, out.origins);
  EXPECT_EQ(j["values"]["admin"]["port"], "16000");
  EXPECT_EQ(j["values"]["trust_domains"][0], "cluster.local");
  EXPECT_EQ(j["sources"]["admin.port"], "testd.yaml:2:3");
  EXPECT_EQ(j["sources"]["workers"], "default");
}

TEST(ConfigTest, CommandLineAddsOptionPerField) {
  auto s = schema();
  CLI::App app("testd");
  CommandLine cl(app, s);
  const char* argv[] = {"testd", "--admin.port", "18000", "--print-config"};
  app.parse(4, const_cast<char**>(argv));
  auto in = cl.inputs({});
  EXPECT_TRUE(cl.printConfigRequested());
  auto out = load(s, in);
  ASSERT_TRUE(out.ok()) << out.describeIssues("testd");
  EXPECT_EQ(out.config->admin.port, 18000);
}

}  // namespace
}  // namespace ambit::config
