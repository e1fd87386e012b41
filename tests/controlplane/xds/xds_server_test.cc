// XdsServer in-process: state-of-the-world clients and push coalescing.
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include "controlplane/model/parse.h"
#include "controlplane/pusher.h"
#include "controlplane/xds/server.h"

namespace ambit::controlplane::xds {
namespace {

namespace ds = envoy::service::discovery::v3;

std::vector<Object> pod(const std::string& name, const std::string& ip) {
  return parseDocuments("apiVersion: v1\nkind: Pod\nmetadata: {name: " + name + "}\nstatus: {podIP: " + ip + "}\n",
                        name + ".yaml")
      .objects;
}

class XdsServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(&server_);
    grpc_ = b.BuildAndStart();
    stub_ = ds::AggregatedDiscoveryService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    pusher_.stop();
    grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

  metrics::Registry registry_;
  ModelStore store_;
  XdsServer server_{registry_};
  Pusher pusher_{store_, server_, MeshSettings{}, PushSettings{std::chrono::milliseconds(50), std::chrono::seconds(1)},
                 registry_};
  int port_ = 0;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<ds::AggregatedDiscoveryService::Stub> stub_;
};

TEST_F(XdsServerTest, StateOfTheWorldClientGetsEverythingOnEachChange) {
  ASSERT_TRUE(store_.replace("a", pod("a", "198.18.1.1")).ok());
  pusher_.start();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto stream = stub_->StreamAggregatedResources(&ctx);
  ds::DiscoveryRequest req;
  req.set_type_url(kAddressType);
  ASSERT_TRUE(stream->Write(req));
  ds::DiscoveryResponse resp;
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.resources_size(), 1);
  ds::DiscoveryRequest ack;
  ack.set_type_url(kAddressType);
  ack.set_version_info(resp.version_info());
  ack.set_response_nonce(resp.nonce());
  ASSERT_TRUE(stream->Write(ack));

  ASSERT_TRUE(store_.replace("b", pod("b", "198.18.1.2")).ok());
  ASSERT_TRUE(stream->Read(&resp));
  EXPECT_EQ(resp.resources_size(), 2) << "state of the world: the whole set again";
  EXPECT_NE(resp.version_info(), ack.version_info());
  stream->WritesDone();
  ctx.TryCancel();
}

TEST_F(XdsServerTest, BurstsOfChangesAreCoalesced) {
  pusher_.start();
  auto translations = [&] {
    std::string text = registry_.renderPrometheus();
    auto pos = text.find("ambitd_translate_seconds_count ");
    return std::stoi(text.substr(pos + 31));
  };
  int before = translations();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(store_.replace("f" + std::to_string(i), pod("p" + std::to_string(i), "198.18.2." + std::to_string(i + 1))).ok());
  ASSERT_TRUE(pusher_.waitForPushed(store_.current()->version, std::chrono::seconds(5)));
  EXPECT_EQ(server_.current()->find(kAddressType)->by_name.size(), 20u);
  EXPECT_LT(translations() - before, 20) << "20 changes in a burst must not mean 20 pushes";
}

TEST_F(XdsServerTest, TooManyTypeUrlsEndTheStream) {
  pusher_.start();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto stream = stub_->DeltaAggregatedResources(&ctx);
  for (int i = 0; i < 40; ++i) {
    ds::DeltaDiscoveryRequest req;
    req.set_type_url("type.googleapis.com/junk.T" + std::to_string(i));
    if (!stream->Write(req)) break;
  }
  ds::DeltaDiscoveryResponse resp;
  while (stream->Read(&resp)) {
  }
  auto status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(registry_.renderPrometheus().find("junk"), std::string::npos) << "client-chosen names never become labels";
}

}  // namespace
}  // namespace ambit::controlplane::xds
