// The identity manager against a fake CA signing with a test PKI: first
// certificate, refresh at half-life, a failed refresh keeps the old one, and
// traffic waiting for a certificate that never comes gives up (fail closed).
#include <atomic>
#include <condition_variable>
#include <mutex>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>

#include "tests/support/test_certs.h"
#include "ztunnel/identity/manager.h"

namespace ambit::ztunnel::identity {
namespace {

using namespace std::chrono_literals;

class FakeCa : public CaClient {
 public:
  explicit FakeCa(const test::TestPki& pki) : pki_(pki) {}
  Result<std::vector<std::string>> sign(const std::string& csr_pem, const tls::Identity& id,
                                        std::chrono::seconds ttl) override {
    std::unique_lock lock(mu_);
    ++calls_;
    cv_.notify_all();
    if (fail_) return makeError(ErrorCode::kUnavailable, "CA down (test)");
    auto csr = tls::parsePemCsr(csr_pem);
    if (!csr) return csr.error();
    tls::CertSpec spec = pki_.leafSpec(id);
    spec.not_before = std::chrono::system_clock::now() - 1s;
    spec.not_after = spec.not_before + ttl + 1s;
    EVP_PKEY* pub = X509_REQ_get0_pubkey(csr->get());
    auto cert = tls::issueCertificate(spec, pub, pki_.intermediate(), pki_.intermediateKey());
    if (!cert) return cert.error();
    return std::vector<std::string>{tls::toPem(cert->get()), tls::toPem(pki_.intermediate()), pki_.rootPem()};
  }
  void setFail(bool f) {
    std::lock_guard lock(mu_);
    fail_ = f;
  }
  // Waits (bounded) until at least n calls were made.
  bool waitCalls(int n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return calls_ >= n; });
  }

 private:
  const test::TestPki& pki_;
  std::mutex mu_;
  std::condition_variable cv_;
  int calls_ = 0;
  bool fail_ = false;
};

class IdentityManagerTest : public ::testing::Test {
 protected:
  IdentityManagerTest() : work_(boost::asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~IdentityManagerTest() override {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  bool ready(Manager& m, const tls::Identity& id, std::chrono::milliseconds timeout) {
    auto f = boost::asio::co_spawn(io_, m.ready(id, timeout), boost::asio::use_future);
    return f.get();
  }

  test::TestPki pki_;
  tls::Identity id_ = pki_.identity("demo", "client");
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

TEST_F(IdentityManagerTest, FetchesRefreshesAndKeepsTheOldCertificateWhenRefreshFails) {
  auto ca = std::make_unique<FakeCa>(pki_);
  auto* fake = ca.get();
  ManagerOptions opts;
  opts.ttl = 2s;  // refresh due after ~1 s
  opts.retry_initial = 50ms;
  opts.retry_max = 100ms;
  Manager m(std::move(ca), opts);
  m.start();
  m.setWanted({id_.toString()});
  ASSERT_TRUE(ready(m, id_, 10s));
  auto first = m.store(id_)->current();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->identity, id_);

  ASSERT_TRUE(fake->waitCalls(2, 10s)) << "no refresh at half-life";
  fake->setFail(true);  // the refresh in flight (call 2) succeeds; later ones fail
  ASSERT_TRUE(fake->waitCalls(4, 10s)) << "no retry after a failed refresh";
  auto kept = m.store(id_)->current();
  ASSERT_TRUE(kept) << "a failed refresh must keep the previous certificate";
  EXPECT_NE(kept, first) << "the refresh at half-life replaced the first certificate";
  EXPECT_NE(m.dump().dump().find("CA down"), std::string::npos);
  m.stop();
}

TEST_F(IdentityManagerTest, WaitingForACertificateThatNeverComesFailsClosed) {
  auto ca = std::make_unique<FakeCa>(pki_);
  ca->setFail(true);
  Manager m(std::move(ca), {});
  m.start();
  m.setWanted({id_.toString()});
  EXPECT_FALSE(ready(m, id_, 200ms));
  EXPECT_FALSE(m.store(id_)->current());
  m.stop();
}

}  // namespace
}  // namespace ambit::ztunnel::identity
