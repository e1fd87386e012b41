// The xDS, workload (WDS) and authorization protos must be wire-compatible with
// Envoy's and Istio's: names, field numbers and enum values are checked here
// against the public definitions, plus a few hand-encoded byte strings.
#include <gtest/gtest.h>

#include <google/protobuf/any.pb.h>
#include <google/protobuf/descriptor.h>
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "envoy/config/core/v3/base.pb.h"
#include "envoy/service/discovery/v3/ads.grpc.pb.h"
#include "envoy/service/discovery/v3/ads.pb.h"
#include "envoy/service/discovery/v3/discovery.pb.h"
#include "google/rpc/status.pb.h"
#include "istio/security/authorization.pb.h"
#include "istio/workload/workload.pb.h"

namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::FieldDescriptor;

// Number of the named field, or -1 when the message has no such field.
int Num(const Descriptor* d, const char* field) {
  const FieldDescriptor* f = d->FindFieldByName(field);
  return f == nullptr ? -1 : f->number();
}

// Value of the named enum constant, or -1 when absent.
int EnumVal(const EnumDescriptor* e, const char* name) {
  const auto* v = e->FindValueByName(name);
  return v == nullptr ? -1 : v->number();
}

TEST(XdsProtoTest, RpcStatusMatchesGoogleApis) {
  const auto* d = google::rpc::Status::descriptor();
  EXPECT_EQ(d->full_name(), "google.rpc.Status");
  EXPECT_EQ(Num(d, "code"), 1);
  EXPECT_EQ(Num(d, "message"), 2);
  EXPECT_EQ(Num(d, "details"), 3);
  EXPECT_TRUE(d->FindFieldByName("details")->is_repeated());
}

TEST(XdsProtoTest, NodeMatchesEnvoy) {
  const auto* d = envoy::config::core::v3::Node::descriptor();
  EXPECT_EQ(d->full_name(), "envoy.config.core.v3.Node");
  EXPECT_EQ(Num(d, "id"), 1);
  EXPECT_EQ(Num(d, "cluster"), 2);
  EXPECT_EQ(Num(d, "metadata"), 3);
  EXPECT_EQ(d->FindFieldByName("metadata")->message_type()->full_name(), "google.protobuf.Struct");
  EXPECT_EQ(Num(d, "locality"), 4);
  EXPECT_EQ(Num(d, "user_agent_name"), 6);
  EXPECT_EQ(Num(d, "user_agent_version"), 7);
  EXPECT_EQ(Num(d, "client_features"), 10);
  const auto* loc = envoy::config::core::v3::Locality::descriptor();
  EXPECT_EQ(Num(loc, "region"), 1);
  EXPECT_EQ(Num(loc, "zone"), 2);
  EXPECT_EQ(Num(loc, "sub_zone"), 3);
  EXPECT_EQ(Num(envoy::config::core::v3::ControlPlane::descriptor(), "identifier"), 1);
}

TEST(XdsProtoTest, SotwDiscoveryMatchesEnvoy) {
  const auto* req = envoy::service::discovery::v3::DiscoveryRequest::descriptor();
  EXPECT_EQ(req->full_name(), "envoy.service.discovery.v3.DiscoveryRequest");
  EXPECT_EQ(Num(req, "version_info"), 1);
  EXPECT_EQ(Num(req, "node"), 2);
  EXPECT_EQ(Num(req, "resource_names"), 3);
  EXPECT_EQ(Num(req, "type_url"), 4);
  EXPECT_EQ(Num(req, "response_nonce"), 5);
  EXPECT_EQ(Num(req, "error_detail"), 6);
  EXPECT_EQ(Num(req, "resource_locators"), 7);
  const auto* resp = envoy::service::discovery::v3::DiscoveryResponse::descriptor();
  EXPECT_EQ(Num(resp, "version_info"), 1);
  EXPECT_EQ(Num(resp, "resources"), 2);
  EXPECT_EQ(Num(resp, "canary"), 3);
  EXPECT_EQ(Num(resp, "type_url"), 4);
  EXPECT_EQ(Num(resp, "nonce"), 5);
  EXPECT_EQ(Num(resp, "control_plane"), 6);
  EXPECT_EQ(Num(resp, "resource_errors"), 7);
}

TEST(XdsProtoTest, DeltaDiscoveryMatchesEnvoy) {
  const auto* req = envoy::service::discovery::v3::DeltaDiscoveryRequest::descriptor();
  EXPECT_EQ(req->full_name(), "envoy.service.discovery.v3.DeltaDiscoveryRequest");
  EXPECT_EQ(Num(req, "node"), 1);
  EXPECT_EQ(Num(req, "type_url"), 2);
  EXPECT_EQ(Num(req, "resource_names_subscribe"), 3);
  EXPECT_EQ(Num(req, "resource_names_unsubscribe"), 4);
  EXPECT_EQ(Num(req, "initial_resource_versions"), 5);
  EXPECT_TRUE(req->FindFieldByName("initial_resource_versions")->is_map());
  EXPECT_EQ(Num(req, "response_nonce"), 6);
  EXPECT_EQ(Num(req, "error_detail"), 7);
  EXPECT_EQ(req->FindFieldByName("error_detail")->message_type()->full_name(), "google.rpc.Status");
  EXPECT_EQ(Num(req, "resource_locators_subscribe"), 8);
  EXPECT_EQ(Num(req, "resource_locators_unsubscribe"), 9);

  const auto* resp = envoy::service::discovery::v3::DeltaDiscoveryResponse::descriptor();
  EXPECT_EQ(Num(resp, "system_version_info"), 1);
  EXPECT_EQ(Num(resp, "resources"), 2);
  EXPECT_EQ(resp->FindFieldByNumber(3), nullptr);  // unused upstream
  EXPECT_EQ(Num(resp, "type_url"), 4);
  EXPECT_EQ(Num(resp, "nonce"), 5);
  EXPECT_EQ(Num(resp, "removed_resources"), 6);
  EXPECT_EQ(Num(resp, "control_plane"), 7);
  EXPECT_EQ(Num(resp, "removed_resource_names"), 8);
  EXPECT_EQ(Num(resp, "resource_errors"), 9);

  const auto* res = envoy::service::discovery::v3::Resource::descriptor();
  EXPECT_EQ(Num(res, "version"), 1);
  EXPECT_EQ(Num(res, "resource"), 2);
  EXPECT_EQ(Num(res, "name"), 3);
  EXPECT_EQ(Num(res, "aliases"), 4);
  EXPECT_EQ(Num(res, "ttl"), 6);
  EXPECT_EQ(Num(res, "cache_control"), 7);
  EXPECT_EQ(Num(res, "resource_name"), 8);
  EXPECT_EQ(Num(res, "metadata"), 9);
}

TEST(XdsProtoTest, DeltaRequestEncodesAsEnvoyDoes) {
  envoy::service::discovery::v3::DeltaDiscoveryRequest req;
  req.set_type_url("t");
  req.set_response_nonce("n");
  // Field 2 "t", then field 6 "n".
  EXPECT_EQ(req.SerializeAsString(), std::string("\x12\x01t\x32\x01n", 6));

  envoy::service::discovery::v3::Resource res;
  res.set_name("a");
  res.add_aliases("b");
  // Field 3 "a", then field 4 "b".
  EXPECT_EQ(res.SerializeAsString(), std::string("\x1a\x01" "a\x22\x01" "b", 6));
}

// Records the method path of every call it receives and fails the call.
class PathRecorder final : public grpc::CallbackGenericService {
 public:
  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      paths_.push_back(ctx->method());
    }
    return new Refuser();
  }

  std::vector<std::string> paths() {
    std::lock_guard<std::mutex> lock(mu_);
    return paths_;
  }

 private:
  class Refuser final : public grpc::ServerGenericBidiReactor {
   public:
    Refuser() { Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "recorded")); }
    void OnDone() override { delete this; }
  };

  std::mutex mu_;
  std::vector<std::string> paths_;
};

// The generated stubs must put Envoy's exact paths on the wire.
TEST(XdsProtoTest, AdsMethodPathsMatchEnvoy) {
  using envoy::service::discovery::v3::AggregatedDiscoveryService;
  EXPECT_STREQ(AggregatedDiscoveryService::service_full_name(),
               "envoy.service.discovery.v3.AggregatedDiscoveryService");

  PathRecorder recorder;
  grpc::ServerBuilder builder;
  builder.RegisterCallbackGenericService(&recorder);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  auto stub = AggregatedDiscoveryService::NewStub(server->InProcessChannel(grpc::ChannelArguments()));
  {
    grpc::ClientContext ctx;
    // Bidirectional stream of DeltaDiscoveryRequest -> DeltaDiscoveryResponse.
    std::unique_ptr<grpc::ClientReaderWriter<envoy::service::discovery::v3::DeltaDiscoveryRequest,
                                             envoy::service::discovery::v3::DeltaDiscoveryResponse>>
        stream = stub->DeltaAggregatedResources(&ctx);
    stream->WritesDone();
    envoy::service::discovery::v3::DeltaDiscoveryResponse resp;
    while (stream->Read(&resp)) {
    }
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
  }
  {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReaderWriter<envoy::service::discovery::v3::DiscoveryRequest,
                                             envoy::service::discovery::v3::DiscoveryResponse>>
        stream = stub->StreamAggregatedResources(&ctx);
    stream->WritesDone();
    envoy::service::discovery::v3::DiscoveryResponse resp;
    while (stream->Read(&resp)) {
    }
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNIMPLEMENTED);
  }
  server->Shutdown();
  EXPECT_EQ(recorder.paths(),
            (std::vector<std::string>{
                "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources",
                "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources",
            }));
}

TEST(XdsProtoTest, AddressMatchesIstio) {
  const auto* d = istio::workload::Address::descriptor();
  EXPECT_EQ(d->full_name(), "istio.workload.Address");
  EXPECT_EQ(Num(d, "workload"), 1);
  EXPECT_EQ(Num(d, "service"), 2);
  ASSERT_NE(d->FindOneofByName("type"), nullptr);
  EXPECT_EQ(d->FindFieldByName("workload")->containing_oneof()->name(), "type");
  EXPECT_EQ(d->FindFieldByName("service")->containing_oneof()->name(), "type");

  istio::workload::Address addr;
  addr.mutable_workload()->set_uid("u");
  google::protobuf::Any any;
  any.PackFrom(addr);
  EXPECT_EQ(any.type_url(), "type.googleapis.com/istio.workload.Address");
  // Address.workload (1) holding Workload.uid (20, a two-byte tag a2 01).
  EXPECT_EQ(addr.SerializeAsString(), std::string("\x0a\x04\xa2\x01\x01u", 6));
}

TEST(XdsProtoTest, WorkloadMatchesIstio) {
  const auto* d = istio::workload::Workload::descriptor();
  EXPECT_EQ(Num(d, "uid"), 20);
  EXPECT_EQ(Num(d, "name"), 1);
  EXPECT_EQ(Num(d, "namespace"), 2);
  EXPECT_EQ(Num(d, "addresses"), 3);
  EXPECT_EQ(d->FindFieldByName("addresses")->type(), FieldDescriptor::TYPE_BYTES);
  EXPECT_TRUE(d->FindFieldByName("addresses")->is_repeated());
  EXPECT_EQ(Num(d, "hostname"), 21);
  EXPECT_EQ(Num(d, "network"), 4);
  EXPECT_EQ(Num(d, "tunnel_protocol"), 5);
  EXPECT_EQ(Num(d, "trust_domain"), 6);
  EXPECT_EQ(Num(d, "service_account"), 7);
  EXPECT_EQ(Num(d, "waypoint"), 8);
  EXPECT_EQ(Num(d, "node"), 9);
  EXPECT_EQ(Num(d, "canonical_name"), 10);
  EXPECT_EQ(Num(d, "canonical_revision"), 11);
  EXPECT_EQ(Num(d, "workload_type"), 12);
  EXPECT_EQ(Num(d, "workload_name"), 13);
  EXPECT_EQ(Num(d, "native_tunnel"), 14);
  EXPECT_EQ(d->FindFieldByNumber(15), nullptr);  // reserved upstream
  EXPECT_EQ(Num(d, "authorization_policies"), 16);
  EXPECT_EQ(Num(d, "status"), 17);
  EXPECT_EQ(Num(d, "cluster_id"), 18);
  EXPECT_EQ(Num(d, "network_gateway"), 19);
  EXPECT_EQ(Num(d, "services"), 22);
  EXPECT_TRUE(d->FindFieldByName("services")->is_map());
  EXPECT_EQ(d->FindFieldByName("services")->message_type()->FindFieldByName("value")->message_type()->full_name(),
            "istio.workload.PortList");
  EXPECT_EQ(Num(d, "application_tunnel"), 23);
  EXPECT_EQ(Num(d, "locality"), 24);
  EXPECT_EQ(Num(d, "network_mode"), 25);
  EXPECT_EQ(Num(d, "extensions"), 26);
  EXPECT_EQ(Num(d, "capacity"), 27);

  const auto* tp = istio::workload::TunnelProtocol_descriptor();
  EXPECT_EQ(EnumVal(tp, "NONE"), 0);
  EXPECT_EQ(EnumVal(tp, "HBONE"), 1);
  EXPECT_EQ(EnumVal(tp, "LEGACY_ISTIO_MTLS"), 2);
  EXPECT_EQ(EnumVal(istio::workload::WorkloadStatus_descriptor(), "HEALTHY"), 0);
  EXPECT_EQ(EnumVal(istio::workload::WorkloadStatus_descriptor(), "UNHEALTHY"), 1);
  EXPECT_EQ(EnumVal(istio::workload::WorkloadType_descriptor(), "POD"), 2);
  EXPECT_EQ(EnumVal(istio::workload::NetworkMode_descriptor(), "HOST_NETWORK"), 1);
  EXPECT_EQ(EnumVal(istio::workload::AppProtocol_descriptor(), "HTTP2"), 2);
  EXPECT_EQ(EnumVal(istio::workload::ApplicationTunnel::Protocol_descriptor(), "PROXY"), 1);
}

TEST(XdsProtoTest, ServiceMatchesIstio) {
  const auto* d = istio::workload::Service::descriptor();
  EXPECT_EQ(Num(d, "name"), 1);
  EXPECT_EQ(Num(d, "namespace"), 2);
  EXPECT_EQ(Num(d, "hostname"), 3);
  EXPECT_EQ(Num(d, "addresses"), 4);
  EXPECT_EQ(d->FindFieldByName("addresses")->message_type()->full_name(), "istio.workload.NetworkAddress");
  EXPECT_EQ(Num(d, "ports"), 5);
  EXPECT_EQ(Num(d, "subject_alt_names"), 6);
  EXPECT_EQ(Num(d, "waypoint"), 7);
  EXPECT_EQ(d->FindFieldByName("waypoint")->message_type()->full_name(), "istio.workload.GatewayAddress");
  EXPECT_EQ(Num(d, "load_balancing"), 8);
  EXPECT_EQ(Num(d, "ip_families"), 9);
  EXPECT_EQ(Num(d, "extensions"), 10);
  EXPECT_EQ(Num(d, "canonical"), 11);
  EXPECT_EQ(Num(d, "ingress_use_waypoint"), 12);
  EXPECT_EQ(Num(d, "weighted_waypoints"), 13);
  EXPECT_EQ(Num(d, "visibility"), 14);

  const auto* na = istio::workload::NetworkAddress::descriptor();
  EXPECT_EQ(Num(na, "network"), 1);
  EXPECT_EQ(Num(na, "address"), 2);
  EXPECT_EQ(Num(na, "length"), 3);
  const auto* port = istio::workload::Port::descriptor();
  EXPECT_EQ(Num(port, "service_port"), 1);
  EXPECT_EQ(Num(port, "target_port"), 2);
  EXPECT_EQ(Num(port, "app_protocol"), 3);
  const auto* gw = istio::workload::GatewayAddress::descriptor();
  EXPECT_EQ(Num(gw, "hostname"), 1);
  EXPECT_EQ(Num(gw, "address"), 2);
  EXPECT_EQ(Num(gw, "hbone_mtls_port"), 3);
  EXPECT_EQ(gw->FindFieldByNumber(4), nullptr);  // reserved upstream
  const auto* nh = istio::workload::NamespacedHostname::descriptor();
  EXPECT_EQ(Num(nh, "namespace"), 1);
  EXPECT_EQ(Num(nh, "hostname"), 2);
  const auto* lb = istio::workload::LoadBalancing::descriptor();
  EXPECT_EQ(Num(lb, "routing_preference"), 1);
  EXPECT_EQ(Num(lb, "mode"), 2);
  EXPECT_EQ(Num(lb, "health_policy"), 3);
  EXPECT_EQ(EnumVal(istio::workload::LoadBalancing::Scope_descriptor(), "NETWORK"), 6);
  EXPECT_EQ(EnumVal(istio::workload::LoadBalancing::Mode_descriptor(), "FAILOVER"), 2);
}

TEST(XdsProtoTest, AuthorizationMatchesIstio) {
  const auto* d = istio::security::Authorization::descriptor();
  EXPECT_EQ(d->full_name(), "istio.security.Authorization");
  EXPECT_EQ(Num(d, "name"), 1);
  EXPECT_EQ(Num(d, "namespace"), 2);
  EXPECT_EQ(Num(d, "scope"), 3);
  EXPECT_EQ(Num(d, "action"), 4);
  EXPECT_EQ(Num(d, "groups"), 5);
  EXPECT_EQ(Num(d, "dry_run"), 6);
  EXPECT_EQ(Num(d, "extensions"), 7);
  EXPECT_EQ(Num(istio::security::Group::descriptor(), "rules"), 1);
  EXPECT_EQ(Num(istio::security::Rules::descriptor(), "matches"), 2);

  const auto* m = istio::security::Match::descriptor();
  EXPECT_EQ(Num(m, "namespaces"), 1);
  EXPECT_EQ(Num(m, "not_namespaces"), 2);
  EXPECT_EQ(Num(m, "principals"), 3);
  EXPECT_EQ(Num(m, "not_principals"), 4);
  EXPECT_EQ(Num(m, "source_ips"), 5);
  EXPECT_EQ(Num(m, "not_source_ips"), 6);
  EXPECT_EQ(Num(m, "destination_ips"), 7);
  EXPECT_EQ(Num(m, "not_destination_ips"), 8);
  EXPECT_EQ(Num(m, "destination_ports"), 9);
  EXPECT_EQ(Num(m, "not_destination_ports"), 10);
  EXPECT_EQ(Num(m, "service_accounts"), 11);
  EXPECT_EQ(Num(m, "not_service_accounts"), 12);
  EXPECT_EQ(Num(m, "extensions"), 13);

  const auto* a = istio::security::Address::descriptor();
  EXPECT_EQ(Num(a, "address"), 1);
  EXPECT_EQ(Num(a, "length"), 2);
  const auto* sa = istio::security::ServiceAccountMatch::descriptor();
  EXPECT_EQ(Num(sa, "namespace"), 1);
  EXPECT_EQ(Num(sa, "serviceAccount"), 2);
  const auto* sm = istio::security::StringMatch::descriptor();
  EXPECT_EQ(Num(sm, "exact"), 1);
  EXPECT_EQ(Num(sm, "prefix"), 2);
  EXPECT_EQ(Num(sm, "suffix"), 3);
  EXPECT_EQ(Num(sm, "presence"), 4);

  EXPECT_EQ(EnumVal(istio::security::Action_descriptor(), "ALLOW"), 0);
  EXPECT_EQ(EnumVal(istio::security::Action_descriptor(), "DENY"), 1);
  EXPECT_EQ(EnumVal(istio::security::Scope_descriptor(), "GLOBAL"), 0);
  EXPECT_EQ(EnumVal(istio::security::Scope_descriptor(), "NAMESPACE"), 1);
  EXPECT_EQ(EnumVal(istio::security::Scope_descriptor(), "WORKLOAD_SELECTOR"), 2);
}

TEST(XdsProtoTest, AuthorizationEncodesAsIstioDoes) {
  istio::security::Authorization policy;
  policy.set_name("p");
  policy.set_action(istio::security::DENY);
  policy.add_groups()->add_rules()->add_matches()->add_destination_ports(80);
  // name (1) "p"; action (4) = 1; groups (5) { rules (1) { matches (2) {
  // destination_ports (9, packed) [80] } } }.
  const std::string expected("\x0a\x01p"
                             "\x20\x01"
                             "\x2a\x07\x0a\x05\x12\x03\x4a\x01\x50",
                             14);
  EXPECT_EQ(policy.SerializeAsString(), expected);
  istio::security::Authorization back;
  ASSERT_TRUE(back.ParseFromString(expected));
  ASSERT_EQ(back.groups_size(), 1);
  EXPECT_EQ(back.groups(0).rules(0).matches(0).destination_ports(0), 80u);
  EXPECT_EQ(back.action(), istio::security::DENY);
}

}  // namespace
