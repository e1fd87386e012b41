// The CA: roots (generated, persisted, plugged in), signing, who may get what,
// and the gRPC service under abuse.
#include <sys/stat.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <grpcpp/grpcpp.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <filesystem>
#include <fstream>

#include "controlplane/ca/service.h"
#include "controlplane/model/parse.h"

namespace ambit::controlplane::ca {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/ambit-test-ca-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void writeFile(const fs::path& p, const std::string& s, mode_t mode = 0644) {
  std::ofstream(p) << s;
  chmod(p.c_str(), mode);
}

std::string csrFor(const std::vector<std::string>& sans = {"spiffe://cluster.local/ns/demo/sa/client"}) {
  auto key = tls::generateEcKey();
  auto csr = tls::createCsr(key->get(), sans);
  return tls::toPem(csr->get());
}

// Runs `openssl verify` on a chain (leaf first, root last): the real tool, not our code.
bool opensslVerifies(const std::vector<std::string>& chain, const std::string& dir) {
  writeFile(fs::path(dir) / "leaf.pem", chain.front());
  writeFile(fs::path(dir) / "root.pem", chain.back());
  std::string untrusted;
  for (std::size_t i = 1; i + 1 < chain.size(); ++i) untrusted += chain[i];
  std::string cmd = "openssl verify -x509_strict -CAfile " + dir + "/root.pem ";
  if (!untrusted.empty()) {
    writeFile(fs::path(dir) / "mid.pem", untrusted);
    cmd += "-untrusted " + dir + "/mid.pem ";
  }
  cmd += dir + "/leaf.pem > /dev/null 2>&1";
  return std::system(cmd.c_str()) == 0;
}

const tls::Identity kClient{"cluster.local", "demo", "client"};

TEST(AuthorityTest, GeneratesPersistsAndReloadsTheRoot) {
  TempDir d;
  AuthorityOptions o;
  o.state_dir = d.path() + "/state";
  auto ca = CertificateAuthority::loadOrCreate(o);
  ASSERT_TRUE(ca.ok()) << ca.error().message;
  EXPECT_EQ((*ca)->source(), "generated:" + o.state_dir);
  struct stat st{};
  ASSERT_EQ(stat((o.state_dir + "/root-key.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = CertificateAuthority::loadOrCreate(o);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ((*again)->source(), "loaded:" + o.state_dir);
  EXPECT_EQ((*again)->rootPem(), (*ca)->rootPem());
}

TEST(AuthorityTest, RefusesAWorldReadableKey) {
  TempDir d;
  AuthorityOptions o;
  o.state_dir = d.path();
  ASSERT_TRUE(CertificateAuthority::loadOrCreate(o).ok());
  chmod((d.path() + "/root-key.pem").c_str(), 0644);
  auto ca = CertificateAuthority::loadOrCreate(o);
  ASSERT_FALSE(ca.ok());
  EXPECT_NE(ca.error().message.find("chmod 600"), std::string::npos);
}

TEST(AuthorityTest, SignsTheAuthorizedIdentityNotTheCsrs) {
  TempDir d;
  AuthorityOptions o;
  o.state_dir = d.path() + "/state";
  o.max_ttl = std::chrono::hours(48);
  auto ca = CertificateAuthority::loadOrCreate(o);
  ASSERT_TRUE(ca.ok());
  // The CSR asks for an admin identity; the certificate carries the caller's.
  auto chain = (*ca)->sign(csrFor({"spiffe://cluster.local/ns/istio-system/sa/admin"}), kClient, std::chrono::hours(24 * 30));
  ASSERT_TRUE(chain.ok()) << chain.error().message;
  ASSERT_EQ(chain->size(), 2u);
  EXPECT_TRUE(opensslVerifies(*chain, d.path()));
  auto leaf = tls::parsePemCertificates(chain->front());
  EXPECT_EQ(tls::certificateUriSans((*leaf)[0].get()), std::vector<std::string>{"spiffe://cluster.local/ns/demo/sa/client"});
  auto lifetime = tls::certificateNotAfter((*leaf)[0].get()) - std::chrono::system_clock::now();
  EXPECT_LE(lifetime, std::chrono::hours(48)) << "capped at max_ttl";
  EXPECT_GT(lifetime, std::chrono::hours(47));
  EXPECT_EQ(chain->back(), (*ca)->rootPem()) << "the chain ends with the trust bundle's root";
}

TEST(AuthorityTest, DefaultLifetimeIs24Hours) {
  TempDir d;
  AuthorityOptions o;
  o.state_dir = d.path();
  auto ca = CertificateAuthority::loadOrCreate(o);
  auto chain = (*ca)->sign(csrFor(), kClient, std::chrono::seconds(0));
  ASSERT_TRUE(chain.ok());
  auto leaf = tls::parsePemCertificates(chain->front());
  auto lifetime = tls::certificateNotAfter((*leaf)[0].get()) - std::chrono::system_clock::now();
  EXPECT_LE(lifetime, std::chrono::hours(24));
  EXPECT_GT(lifetime, std::chrono::hours(23));
}

TEST(AuthorityTest, RejectsGarbageCsr) {
  TempDir d;
  AuthorityOptions o;
  o.state_dir = d.path();
  auto ca = CertificateAuthority::loadOrCreate(o);
  for (const char* bad : {"", "garbage", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}) {
    auto r = (*ca)->sign(bad, kClient, std::chrono::seconds(0));
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  }
}

TEST(AuthorityTest, UsesOperatorCacerts) {
  TempDir d;
  // An operator's root and intermediate, made with the same builder the CA uses.
  auto root_key = tls::generateEcKey();
  tls::CertSpec root_spec;
  root_spec.common_name = "Operator Root";
  root_spec.is_ca = true;
  root_spec.not_before = std::chrono::system_clock::now() - std::chrono::hours(1);
  root_spec.not_after = std::chrono::system_clock::now() + std::chrono::hours(24 * 365);
  auto root = tls::issueCertificate(root_spec, root_key->get(), nullptr, root_key->get());
  auto mid_key = tls::generateEcKey();
  auto mid_spec = root_spec;
  mid_spec.common_name = "Operator Intermediate";
  auto mid = tls::issueCertificate(mid_spec, mid_key->get(), root->get(), root_key->get());
  ASSERT_TRUE(root.ok() && mid.ok());
  fs::path c = d.path() + "/cacerts";
  fs::create_directories(c);
  writeFile(c / "ca-key.pem", tls::privateKeyToPem(mid_key->get()), 0600);
  writeFile(c / "ca-cert.pem", tls::toPem(mid->get()));
  writeFile(c / "root-cert.pem", tls::toPem(root->get()));
  writeFile(c / "cert-chain.pem", tls::toPem(mid->get()) + tls::toPem(root->get()));
  AuthorityOptions o;
  o.state_dir = d.path() + "/state";
  o.cacerts_dir = c.string();
  auto ca = CertificateAuthority::loadOrCreate(o);
  ASSERT_TRUE(ca.ok()) << ca.error().message;
  EXPECT_EQ((*ca)->source(), "cacerts:" + c.string());
  auto chain = (*ca)->sign(csrFor(), kClient, std::chrono::seconds(0));
  ASSERT_TRUE(chain.ok());
  ASSERT_EQ(chain->size(), 3u) << "leaf, intermediate, root";
  EXPECT_TRUE(opensslVerifies(*chain, d.path()));
  EXPECT_FALSE(fs::exists(o.state_dir + "/root-key.pem")) << "no root is generated when cacerts are plugged in";
}

const char* kModel = R"(
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: demo}
spec: {serviceAccountName: client, nodeName: node-a}
---
apiVersion: v1
kind: Pod
metadata: {name: backend, namespace: demo}
spec: {serviceAccountName: backend, nodeName: node-b}
)";

Snapshot model() {
  Snapshot s;
  for (const auto& o : parseDocuments(kModel, "m.yaml").objects) s.insert(o);
  return s;
}

const char* kTokens = R"(
nodes:
- {name: node-a, token: node-a-token-0123456789}
workloads:
- {namespace: demo, serviceAccount: client, token: client-token-0123456789}
)";

TEST(CaAuthzTest, Table) {
  auto auth = TokenAuthenticator::fromYaml(kTokens, "tokens.yaml", "cluster.local");
  ASSERT_TRUE(auth.ok()) << auth.error().message;
  auto snap = model();
  struct Case {
    const char* header;
    const char* impersonate;
    const char* expected;  // identity, or the error code name
  } cases[] = {
      {"Bearer node-a-token-0123456789", "", "spiffe://cluster.local/ns/istio-system/sa/ztunnel"},
      {"Bearer node-a-token-0123456789", "spiffe://cluster.local/ns/demo/sa/client", "spiffe://cluster.local/ns/demo/sa/client"},
      {"Bearer node-a-token-0123456789", "spiffe://cluster.local/ns/demo/sa/backend", "permission_denied"},
      {"Bearer node-a-token-0123456789", "spiffe://other.domain/ns/demo/sa/client", "permission_denied"},
      {"Bearer node-a-token-0123456789", "not-a-spiffe-id", "invalid_argument"},
      {"Bearer client-token-0123456789", "", "spiffe://cluster.local/ns/demo/sa/client"},
      {"Bearer client-token-0123456789", "spiffe://cluster.local/ns/demo/sa/client", "spiffe://cluster.local/ns/demo/sa/client"},
      {"Bearer client-token-0123456789", "spiffe://cluster.local/ns/demo/sa/backend", "permission_denied"},
      {"Bearer wrong-token-0123456789", "", "unauthenticated"},
      {"", "", "unauthenticated"},
      {"Basic node-a-token-0123456789", "", "unauthenticated"},
  };
  for (const auto& c : cases) {
    std::string got;
    auto caller = auth->authenticate(c.header);
    if (!caller) {
      got = errorCodeName(caller.error().code);
    } else {
      auto id = authorizeIdentity(*caller, c.impersonate, "cluster.local", snap);
      got = id ? id->toString() : errorCodeName(id.error().code);
    }
    EXPECT_EQ(got, c.expected) << "header='" << c.header << "' impersonate='" << c.impersonate << "'";
  }
}

TEST(CaAuthzTest, TokenFileErrorsNameTheField) {
  auto bad = TokenAuthenticator::fromYaml("nodes:\n- {name: a, token: short}\n", "t.yaml", "cluster.local");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "t.yaml:2:20: field 'nodes[0].token': tokens must be at least 16 characters");
}

// Tokens added to the file take effect without a restart (the lab adds one per
// waypoint); a change that does not parse keeps the last good tokens.
TEST(CaAuthzTest, TokenFileIsReadAgainWhenItChanges) {
  TempDir d;
  auto path = d.path() + "/tokens.yaml";
  auto write = [&](const std::string& text) {
    auto tmp = path + ".tmp";
    std::ofstream(tmp) << text;
    fs::rename(tmp, path);  // a new inode, as an atomic writer makes
  };
  write(kTokens);
  std::vector<std::string> reloads;
  auto file = TokenFile::open(path, "cluster.local", [&](const std::string& error, std::size_t n) {
    reloads.push_back(error.empty() ? std::to_string(n) : "error");
  });
  ASSERT_TRUE(file.ok()) << file.error().message;
  auto& f = **file;
  EXPECT_FALSE(f.authenticate("Bearer waypoint-token-0123456789").ok());
  EXPECT_TRUE(f.authenticate("Bearer client-token-0123456789").ok());
  EXPECT_TRUE(reloads.empty());  // unchanged: not read again

  write(std::string(kTokens) + "- {namespace: demo, serviceAccount: waypoint, token: waypoint-token-0123456789}\n");
  auto caller = f.authenticate("Bearer waypoint-token-0123456789");
  ASSERT_TRUE(caller.ok());
  EXPECT_EQ(caller->identity.toString(), "spiffe://cluster.local/ns/demo/sa/waypoint");
  EXPECT_EQ(f.size(), 3u);
  EXPECT_EQ(f.lastError(), "");

  write("workloads:\n- {namespace: demo, serviceAccount: x, token: short}\n");
  EXPECT_TRUE(f.authenticate("Bearer waypoint-token-0123456789").ok());  // the last good tokens
  EXPECT_THAT(f.lastError(), ::testing::HasSubstr("tokens must be at least 16 characters"));
  EXPECT_EQ(f.size(), 3u);

  fs::remove(path);
  EXPECT_TRUE(f.authenticate("Bearer client-token-0123456789").ok());
  EXPECT_THAT(f.lastError(), ::testing::HasSubstr("is gone"));

  write("nodes:\n- {name: node-a, token: node-a-token-0123456789}\n");  // a token removed is refused
  EXPECT_FALSE(f.authenticate("Bearer client-token-0123456789").ok());
  EXPECT_EQ(f.lastError(), "");
  EXPECT_EQ(reloads, (std::vector<std::string>{"3", "error", "1"}));

  EXPECT_FALSE(TokenFile::open(d.path() + "/missing.yaml", "cluster.local").ok());
}

class CaServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AuthorityOptions o;
    o.state_dir = dir_.path();
    auto ca = CertificateAuthority::loadOrCreate(o);
    ASSERT_TRUE(ca.ok());
    ca_ = std::move(*ca);
    auto auth = TokenAuthenticator::fromYaml(kTokens, "tokens.yaml", "cluster.local");
    ASSERT_TRUE(auth.ok());
    auth_ = std::make_unique<TokenAuthenticator>(std::move(*auth));
    snap_ = std::make_shared<Snapshot>(model());
    service_ = std::make_unique<CaService>(*ca_, *auth_, "cluster.local", [this] { return snap_; }, registry_);
    grpc::ServerBuilder b;
    b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    b.RegisterService(service_.get());
    server_ = b.BuildAndStart();
    ASSERT_NE(port_, 0);
    stub_ = istio::v1::auth::IstioCertificateService::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port_), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override { server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1)); }

  grpc::Status call(const std::string& token, const std::string& impersonate, const std::string& csr,
                    istio::v1::auth::IstioCertificateResponse* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
    istio::v1::auth::IstioCertificateRequest req;
    req.set_csr(csr);
    req.set_validity_duration(3600);
    if (!impersonate.empty()) (*req.mutable_metadata()->mutable_fields())["ImpersonatedIdentity"].set_string_value(impersonate);
    return stub_->CreateCertificate(&ctx, req, resp);
  }

  TempDir dir_;
  metrics::Registry registry_;
  std::unique_ptr<CertificateAuthority> ca_;
  std::unique_ptr<TokenAuthenticator> auth_;
  std::shared_ptr<Snapshot> snap_;
  std::unique_ptr<CaService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::unique_ptr<istio::v1::auth::IstioCertificateService::Stub> stub_;
};

TEST_F(CaServiceTest, IssuesOverGrpcAndRefusesAbuse) {
  istio::v1::auth::IstioCertificateResponse resp;
  auto ok = call("node-a-token-0123456789", "spiffe://cluster.local/ns/demo/sa/client", csrFor(), &resp);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  ASSERT_EQ(resp.cert_chain_size(), 2);
  EXPECT_TRUE(opensslVerifies({resp.cert_chain().begin(), resp.cert_chain().end()}, dir_.path()));

  istio::v1::auth::IstioCertificateResponse ignored;
  EXPECT_EQ(call("", "", csrFor(), &ignored).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call("node-a-token-0123456789", "spiffe://cluster.local/ns/demo/sa/backend", csrFor(), &ignored).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(call("client-token-0123456789", "spiffe://cluster.local/ns/demo/sa/backend", csrFor(), &ignored).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(call("client-token-0123456789", "", "garbage", &ignored).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::string text = registry_.renderPrometheus();
  EXPECT_NE(text.find("citadel_server_success_cert_issuance_count 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("citadel_server_authentication_failure_count 1\n"), std::string::npos) << text;
}

TEST_F(CaServiceTest, GarbageBytesOnThePortDoNotHurtTheServer) {
  namespace asio = boost::asio;
  asio::io_context io;
  for (const std::string& junk : {std::string(4096, '\xff'), std::string("GET / HTTP/1.1\r\n\r\n"),
                                 std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + std::string(64, '\0')}) {
    asio::ip::tcp::socket s(io);
    s.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port_)});
    boost::system::error_code ec;
    asio::write(s, asio::buffer(junk), ec);
    s.close();
  }
  istio::v1::auth::IstioCertificateResponse resp;
  EXPECT_TRUE(call("client-token-0123456789", "", csrFor(), &resp).ok()) << "still serving";
}

}  // namespace
}  // namespace ambit::controlplane::ca
