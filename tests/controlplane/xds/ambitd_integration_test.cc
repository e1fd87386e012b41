// ambitd as a real process on a directory, with a real gRPC delta-xDS client:
// initial state, incremental pushes of only what changed, ACKs, a bad file
// rejected without a push, removals.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <filesystem>
#include <fstream>

#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "common/tls/cert_builder.h"
#include "istio/security/authorization.pb.h"
#include "istio/security/ca.grpc.pb.h"
#include "istio/workload/workload.pb.h"
#include "tests/support/process.h"

namespace {

namespace fs = std::filesystem;
namespace ds = envoy::service::discovery::v3;

constexpr const char* kAddress = "type.googleapis.com/istio.workload.Address";
constexpr const char* kAuthz = "type.googleapis.com/istio.security.Authorization";

const char* kDemo = R"(apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {istio.io/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: demo, labels: {app: client}}
spec: {serviceAccountName: client, nodeName: node-a}
status: {podIP: 198.18.1.10}
---
apiVersion: v1
kind: Pod
metadata: {name: backend, namespace: demo, labels: {app: backend}}
spec: {serviceAccountName: backend, nodeName: node-b}
status: {podIP: 198.18.2.10}
---
apiVersion: v1
kind: Service
metadata: {name: backend, namespace: demo}
spec: {clusterIP: 198.19.0.10, selector: {app: backend}, ports: [{name: http, port: 80, targetPort: 8080}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: backend-allow-client, namespace: demo}
spec:
  selector: {matchLabels: {app: backend}}
  rules: [{from: [{source: {principals: [cluster.local/ns/demo/sa/client]}}]}]
)";

class AmbitdIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ambit-test-ambitd-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ + "/config");
    config_dir_ = dir_ + "/config";
    write("demo.yaml", kDemo);
    std::ofstream(dir_ + "/tokens.yaml") << "nodes:\n- {name: node-a, token: node-a-token-0123456789}\n";
    proc_ = std::make_unique<ambit::test::ChildProcess>(
        AMBITD_BINARY, std::vector<std::string>{"--config_dir", config_dir_, "--xds.address", "127.0.0.1",
                                                "--xds.plaintext_port", "0", "--xds.tls_port", "0",
                                                "--ca.state_dir", dir_ + "/state", "--ca.cacerts_dir",
                                                dir_ + "/no-cacerts", "--ca.token_file", dir_ + "/tokens.yaml",
                                                "--admin.port", "0",
                                                "--admin.stats_address", "127.0.0.1", "--admin.stats_port", "0",
                                                "--admin.readiness_address", "127.0.0.1", "--admin.readiness_port",
                                                "0", "--workers", "1"});
    auto line = proc_->waitForLine("msg=xds_listening", std::chrono::seconds(20));
    ASSERT_TRUE(line) << proc_->output();
    port_ = ambit::test::ChildProcess::field(*line, "port");
    tls_port_ = ambit::test::ChildProcess::field(*line, "tls_port");
    auto channel = grpc::CreateChannel("127.0.0.1:" + port_, grpc::InsecureChannelCredentials());
    stub_ = ds::AggregatedDiscoveryService::NewStub(channel);
    ctx_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    stream_ = stub_->DeltaAggregatedResources(&ctx_);
  }

  void TearDown() override {
    if (stream_) {
      stream_->WritesDone();
      ctx_.TryCancel();
    }
    if (proc_) {
      EXPECT_EQ(proc_->stop(), 0) << proc_->output();
    }
    fs::remove_all(dir_);
  }

  void write(const std::string& name, const std::string& content) {
    std::string tmp = config_dir_ + "/." + name + ".tmp";
    std::ofstream(tmp) << content;
    fs::rename(tmp, config_dir_ + "/" + name);
  }

  void subscribe(const std::string& type) {
    ds::DeltaDiscoveryRequest req;
    req.mutable_node()->set_id("ztunnel~198.18.1.1~test~demo.svc.cluster.local");
    req.set_type_url(type);
    ASSERT_TRUE(stream_->Write(req));
  }

  ds::DeltaDiscoveryResponse readAndAck() {
    ds::DeltaDiscoveryResponse resp;
    EXPECT_TRUE(stream_->Read(&resp)) << proc_->output();
    ds::DeltaDiscoveryRequest ack;
    ack.set_type_url(resp.type_url());
    ack.set_response_nonce(resp.nonce());
    EXPECT_TRUE(stream_->Write(ack));
    return resp;
  }

  static std::set<std::string> names(const ds::DeltaDiscoveryResponse& r) {
    std::set<std::string> out;
    for (const auto& res : r.resources()) out.insert(res.name());
    return out;
  }

  std::string dir_;
  std::string config_dir_;
  std::string port_;
  std::string tls_port_;
  std::unique_ptr<ambit::test::ChildProcess> proc_;
  std::unique_ptr<ds::AggregatedDiscoveryService::Stub> stub_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<ds::DeltaDiscoveryRequest, ds::DeltaDiscoveryResponse>> stream_;
};

TEST_F(AmbitdIntegrationTest, ServesWorkloadsAndPushesOnlyWhatChanged) {
  subscribe(kAddress);
  auto first = readAndAck();
  EXPECT_EQ(first.type_url(), kAddress);
  EXPECT_EQ(names(first), (std::set<std::string>{"Kubernetes//Pod/demo/client", "Kubernetes//Pod/demo/backend",
                                                 "demo/backend.demo.svc.cluster.local"}));
  for (const auto& r : first.resources()) {
    istio::workload::Address a;
    ASSERT_TRUE(a.ParseFromString(r.resource().value()));
    if (r.name() == "Kubernetes//Pod/demo/client") {
      EXPECT_EQ(a.workload().service_account(), "client");
      EXPECT_EQ(a.workload().tunnel_protocol(), istio::workload::HBONE);
      EXPECT_EQ(std::vector<std::string>(r.aliases().begin(), r.aliases().end()),
                std::vector<std::string>{"/198.18.1.10"});
    }
  }

  subscribe(kAuthz);
  auto authz = readAndAck();
  EXPECT_EQ(authz.type_url(), kAuthz);
  ASSERT_EQ(authz.resources_size(), 1);
  istio::security::Authorization policy;
  ASSERT_TRUE(policy.ParseFromString(authz.resources(0).resource().value()));
  EXPECT_EQ(policy.name(), "backend-allow-client");
  EXPECT_EQ(policy.groups(0).rules(0).matches(0).principals(0).exact(), "cluster.local/ns/demo/sa/client");

  // Change one pod: exactly that workload is pushed.
  std::string edited = kDemo;
  edited.replace(edited.find("nodeName: node-a"), 16, "nodeName: node-c");
  write("demo.yaml", edited);
  auto update = readAndAck();
  EXPECT_EQ(update.type_url(), kAddress);
  EXPECT_EQ(names(update), (std::set<std::string>{"Kubernetes//Pod/demo/client"}));
  EXPECT_EQ(update.removed_resources_size(), 0);

  // A bad file is rejected, named in the log, and nothing is pushed for it...
  write("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: broken, namespace: demo}\nstatus: {podIP: nope}\n");
  auto rejected = proc_->waitForLine("msg=config_rejected", std::chrono::seconds(10));
  ASSERT_TRUE(rejected) << proc_->output();
  EXPECT_NE(rejected->find("bad.yaml:4:17: field 'status.podIP'"), std::string::npos) << *rejected;
  // ...so the next push holds only the next good change.
  write("more.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: extra, namespace: demo}\nstatus: {podIP: 198.18.1.11}\n");
  auto added = readAndAck();
  EXPECT_EQ(names(added), (std::set<std::string>{"Kubernetes//Pod/demo/extra"}));

  // Removing a file removes its resources.
  fs::remove(config_dir_ + "/more.yaml");
  auto removed = readAndAck();
  EXPECT_EQ(removed.resources_size(), 0);
  ASSERT_EQ(removed.removed_resources_size(), 1);
  EXPECT_EQ(removed.removed_resources(0), "Kubernetes//Pod/demo/extra");
}

TEST_F(AmbitdIntegrationTest, ReconnectingClientGetsOnlyWhatItLacks) {
  subscribe(kAddress);
  auto first = readAndAck();
  ASSERT_EQ(first.resources_size(), 3);
  std::map<std::string, std::string> versions;
  for (const auto& r : first.resources()) versions[r.name()] = r.version();
  versions["Kubernetes//Pod/demo/backend"] = "stale";
  versions["Kubernetes//Pod/demo/gone"] = "1";

  grpc::ClientContext ctx2;
  ctx2.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto stream2 = stub_->DeltaAggregatedResources(&ctx2);
  ds::DeltaDiscoveryRequest req;
  req.set_type_url(kAddress);
  for (const auto& [k, v] : versions) (*req.mutable_initial_resource_versions())[k] = v;
  ASSERT_TRUE(stream2->Write(req));
  ds::DeltaDiscoveryResponse resp;
  ASSERT_TRUE(stream2->Read(&resp));
  EXPECT_EQ(names(resp), (std::set<std::string>{"Kubernetes//Pod/demo/backend"}));
  ASSERT_EQ(resp.removed_resources_size(), 1);
  EXPECT_EQ(resp.removed_resources(0), "Kubernetes//Pod/demo/gone");
  stream2->WritesDone();
  ctx2.TryCancel();
}

TEST_F(AmbitdIntegrationTest, NodeProxyGetsAPodCertificateOverTls) {
  std::ifstream in(dir_ + "/state/root-cert.pem");
  std::string root((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_FALSE(root.empty()) << "the generated root is persisted";
  grpc::SslCredentialsOptions tls;
  tls.pem_root_certs = root;
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("ambitd.istio-system.svc");  // the name in ambitd's serving certificate
  auto stub = istio::v1::auth::IstioCertificateService::NewStub(
      grpc::CreateCustomChannel("127.0.0.1:" + tls_port_, grpc::SslCredentials(tls), args));

  auto key = ambit::tls::generateEcKey();
  auto csr = ambit::tls::createCsr(key->get(), {"spiffe://cluster.local/ns/demo/sa/client"});
  istio::v1::auth::IstioCertificateRequest req;
  req.set_csr(ambit::tls::toPem(csr->get()));
  req.set_validity_duration(3600);
  (*req.mutable_metadata()->mutable_fields())["ImpersonatedIdentity"].set_string_value(
      "spiffe://cluster.local/ns/demo/sa/client");
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  ctx.AddMetadata("authorization", "Bearer node-a-token-0123456789");
  istio::v1::auth::IstioCertificateResponse resp;
  auto status = stub->CreateCertificate(&ctx, req, &resp);
  ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << proc_->output();
  ASSERT_EQ(resp.cert_chain_size(), 2);
  EXPECT_EQ(resp.cert_chain(1), root);
  auto leaf = ambit::tls::parsePemCertificates(resp.cert_chain(0));
  EXPECT_EQ(ambit::tls::certificateUriSans((*leaf)[0].get()),
            std::vector<std::string>{"spiffe://cluster.local/ns/demo/sa/client"});

  // backend runs on node-b: node-a may not have its certificate.
  grpc::ClientContext ctx2;
  ctx2.AddMetadata("authorization", "Bearer node-a-token-0123456789");
  (*req.mutable_metadata()->mutable_fields())["ImpersonatedIdentity"].set_string_value(
      "spiffe://cluster.local/ns/demo/sa/backend");
  EXPECT_EQ(stub->CreateCertificate(&ctx2, req, &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
