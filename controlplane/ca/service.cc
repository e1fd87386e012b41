// CreateCertificate: authenticate, decide the identity, sign.
#include "controlplane/ca/service.h"

#include "common/log/log.h"

namespace ambit::controlplane::ca {

CaService::CaService(const CertificateAuthority& authority, const Authenticator& auth, std::string trust_domain,
                     std::function<std::shared_ptr<const Snapshot>()> model, metrics::Registry& registry)
    : authority_(authority), auth_(auth), trust_domain_(std::move(trust_domain)), model_(std::move(model)) {
  // istiod's metric names, so existing dashboards show the CA.
  csr_count_ = registry.counter("citadel_server_csr_count", "Certificate signing requests received").get({});
  issued_ = registry.counter("citadel_server_success_cert_issuance_count", "Certificates issued").get({});
  auth_failures_ =
      registry.counter("citadel_server_authentication_failure_count", "CSRs refused: caller not authenticated").get({});
  sign_errors_ = registry.counter("citadel_server_csr_sign_error_count", "CSRs refused or failed after authentication").get({});
}

grpc::Status CaService::handle(const std::string& authorization, const istio::v1::auth::IstioCertificateRequest& req,
                               istio::v1::auth::IstioCertificateResponse& resp) {
  auto logger = log::scope("ambitd.ca");
  csr_count_->inc();
  auto caller = auth_.authenticate(authorization);
  if (!caller) {
    auth_failures_->inc();
    log::warn(*logger, "csr_unauthenticated", "reason", caller.error().message);
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, caller.error().message);
  }
  std::string impersonate;
  if (req.has_metadata()) {
    auto it = req.metadata().fields().find("ImpersonatedIdentity");
    if (it != req.metadata().fields().end()) impersonate = it->second.string_value();
  }
  auto identity = authorizeIdentity(*caller, impersonate, trust_domain_, *model_());
  if (!identity) {
    sign_errors_->inc();
    log::warn(*logger, "csr_denied", "caller", caller->identity.toString(), "node", caller->node, "asked", impersonate,
              "reason", identity.error().message);
    auto code = identity.error().code == ErrorCode::kInvalidArgument ? grpc::StatusCode::INVALID_ARGUMENT
                                                                     : grpc::StatusCode::PERMISSION_DENIED;
    return grpc::Status(code, identity.error().message);
  }
  auto chain = authority_.sign(req.csr(), *identity, std::chrono::seconds(req.validity_duration()));
  if (!chain) {
    sign_errors_->inc();
    log::warn(*logger, "csr_rejected", "identity", identity->toString(), "reason", chain.error().message);
    auto code = chain.error().code == ErrorCode::kInvalidArgument ? grpc::StatusCode::INVALID_ARGUMENT
                                                                  : grpc::StatusCode::INTERNAL;
    return grpc::Status(code, chain.error().message);
  }
  for (auto& pem : *chain) resp.add_cert_chain(std::move(pem));
  issued_->inc();
  log::info(*logger, "certificate_issued", "identity", identity->toString(), "caller", caller->identity.toString(),
            "node", caller->node);
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* CaService::CreateCertificate(grpc::CallbackServerContext* ctx,
                                                       const istio::v1::auth::IstioCertificateRequest* req,
                                                       istio::v1::auth::IstioCertificateResponse* resp) {
  std::string authorization;
  const auto& md = ctx->client_metadata();
  if (auto it = md.find("authorization"); it != md.end()) authorization.assign(it->second.data(), it->second.size());
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(handle(authorization, *req, *resp));
  return reactor;
}

}  // namespace ambit::controlplane::ca
