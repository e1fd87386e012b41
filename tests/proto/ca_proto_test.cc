// The CA proto is wire-compatible with Istio's: field numbers are what matter.
#include <gtest/gtest.h>

#include "istio/security/ca.grpc.pb.h"
#include "istio/security/ca.pb.h"

namespace {

TEST(CaProtoTest, FieldNumbersMatchIstio) {
  const auto* req = istio::v1::auth::IstioCertificateRequest::descriptor();
  EXPECT_EQ(req->full_name(), "istio.v1.auth.IstioCertificateRequest");
  EXPECT_EQ(req->FindFieldByName("csr")->number(), 1);
  EXPECT_EQ(req->FindFieldByName("validity_duration")->number(), 3);
  EXPECT_EQ(req->FindFieldByName("metadata")->number(), 4);
  const auto* resp = istio::v1::auth::IstioCertificateResponse::descriptor();
  EXPECT_EQ(resp->FindFieldByName("cert_chain")->number(), 1);
  EXPECT_TRUE(resp->FindFieldByName("cert_chain")->is_repeated());
}

TEST(CaProtoTest, EncodesOnTheWireAsIstioDoes) {
  istio::v1::auth::IstioCertificateRequest req;
  req.set_csr("C");
  req.set_validity_duration(86400);
  // Field 1 (length-delimited) "C", then field 3 (varint) 86400.
  const std::string expected = std::string("\x0a\x01" "C" "\x18\x80\xa3\x05", 7);
  EXPECT_EQ(req.SerializeAsString(), expected);
  (*req.mutable_metadata()->mutable_fields())["ImpersonatedIdentity"].set_string_value(
      "spiffe://cluster.local/ns/demo/sa/client");
  istio::v1::auth::IstioCertificateRequest back;
  ASSERT_TRUE(back.ParseFromString(req.SerializeAsString()));
  EXPECT_EQ(back.metadata().fields().at("ImpersonatedIdentity").string_value(),
            "spiffe://cluster.local/ns/demo/sa/client");
}

TEST(CaProtoTest, ServiceMethodPathMatchesIstio) {
  const auto* svc = istio::v1::auth::IstioCertificateService::service_full_name();
  EXPECT_STREQ(svc, "istio.v1.auth.IstioCertificateService");
  const auto* method = istio::v1::auth::IstioCertificateRequest::descriptor()->file()->FindServiceByName(
      "IstioCertificateService")->FindMethodByName("CreateCertificate");
  ASSERT_NE(method, nullptr);
  EXPECT_EQ(method->input_type()->full_name(), "istio.v1.auth.IstioCertificateRequest");
  EXPECT_EQ(method->output_type()->full_name(), "istio.v1.auth.IstioCertificateResponse");
}

}  // namespace
