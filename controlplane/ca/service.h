// istio.v1.auth.IstioCertificateService/CreateCertificate over gRPC.
#pragma once

#include <functional>
#include <memory>

#include "common/metrics/registry.h"
#include "controlplane/ca/authority.h"
#include "controlplane/ca/authz.h"
#include "istio/security/ca.grpc.pb.h"

namespace ambit::controlplane::ca {

class CaService final : public istio::v1::auth::IstioCertificateService::CallbackService {
 public:
  CaService(const CertificateAuthority& authority, const Authenticator& auth, std::string trust_domain,
            std::function<std::shared_ptr<const Snapshot>()> model, metrics::Registry& registry);

  grpc::ServerUnaryReactor* CreateCertificate(grpc::CallbackServerContext* ctx,
                                              const istio::v1::auth::IstioCertificateRequest* req,
                                              istio::v1::auth::IstioCertificateResponse* resp) override;

  // The whole call as a function (the gRPC method is a thin wrapper).
  grpc::Status handle(const std::string& authorization, const istio::v1::auth::IstioCertificateRequest& req,
                      istio::v1::auth::IstioCertificateResponse& resp);

 private:
  const CertificateAuthority& authority_;
  const Authenticator& auth_;
  std::string trust_domain_;
  std::function<std::shared_ptr<const Snapshot>()> model_;
  std::shared_ptr<metrics::Counter> csr_count_, issued_, auth_failures_, sign_errors_;
};

}  // namespace ambit::controlplane::ca
