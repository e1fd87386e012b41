// The node-agent protocol: the PodSet state machine as a table, then the real
// client and server over a unix SEQPACKET socket with netns fds passed by
// SCM_RIGHTS (the test's own namespace: no root needed).
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>

#include <gtest/gtest.h>

#include "common/zds/client.h"
#include "common/zds/pod_set.h"
#include "common/zds/server.h"
#include "common/zds/wire.h"

namespace ambit::zds {
namespace {

using namespace std::chrono_literals;
using istio::workload::zds::WorkloadRequest;

int netnsFd() {
  auto ns = netns::Netns::current();
  EXPECT_TRUE(ns.ok());
  return ::dup((*ns)->fd());
}

WorkloadRequest add(const std::string& uid, const std::string& sa = "default") {
  WorkloadRequest r;
  r.mutable_add()->set_uid(uid);
  r.mutable_add()->mutable_workload_info()->set_name(uid);
  r.mutable_add()->mutable_workload_info()->set_namespace_("demo");
  r.mutable_add()->mutable_workload_info()->set_service_account(sa);
  return r;
}
WorkloadRequest keep(const std::string& uid) {
  WorkloadRequest r;
  r.mutable_keep()->set_uid(uid);
  return r;
}
WorkloadRequest del(const std::string& uid) {
  WorkloadRequest r;
  r.mutable_del()->set_uid(uid);
  return r;
}
WorkloadRequest snapshot() {
  WorkloadRequest r;
  r.mutable_snapshot_sent();
  return r;
}

TEST(PodSetTest, RequestsTable) {
  struct Step {
    const char* what;
    WorkloadRequest req;
    bool with_fd;
    bool begin_replay;  // a reconnect before this step
    std::string error;  // substring of the ack's error; "" = ok
    bool changed;
    std::vector<std::string> pods_after;
  };
  std::vector<Step> steps{
      {"first add", add("a"), true, true, "", true, {"a"}},
      {"second add", add("b"), true, false, "", true, {"a", "b"}},
      {"add without its netns is refused", add("c"), false, false, "without its network namespace", false, {"a", "b"}},
      {"add without uid is refused", add(""), true, false, "without a uid", false, {"a", "b"}},
      {"snapshot completes", snapshot(), false, false, "", false, {"a", "b"}},
      {"same add again changes nothing", add("a"), true, false, "", false, {"a", "b"}},
      {"new identity for a pod is a change", add("a", "other"), true, false, "", true, {"a", "b"}},
      {"delete", del("b"), false, false, "", true, {"a"}},
      {"delete of an unknown pod is fine", del("zzz"), false, false, "", false, {"a"}},
      {"keep of an unknown pod is refused", keep("zzz"), false, false, "unknown workload", false, {"a"}},
      // Reconnect: pods stay during the replay; what was not replayed goes at SnapshotSent.
      {"replay: add d", add("d"), true, true, "", true, {"a", "d"}},
      {"replay ends: a was not replayed", snapshot(), false, false, "", true, {"d"}},
      {"replay with keep", keep("d"), false, true, "", false, {"d"}},
      {"kept pods stay", snapshot(), false, false, "", false, {"d"}},
      {"empty request", WorkloadRequest(), false, false, "empty", false, {"d"}},
  };
  PodSet set;
  for (const auto& s : steps) {
    if (s.begin_replay) set.beginReplay();
    auto out = set.apply(s.req, s.with_fd ? netnsFd() : -1);
    if (s.error.empty()) {
      EXPECT_EQ(out.error, "") << s.what;
    } else {
      EXPECT_NE(out.error.find(s.error), std::string::npos) << s.what << ": " << out.error;
    }
    EXPECT_EQ(out.changed, s.changed) << s.what;
    std::vector<std::string> uids;
    for (const auto& [uid, pod] : set.pods()) uids.push_back(uid);
    EXPECT_EQ(uids, s.pods_after) << s.what;
  }
  EXPECT_TRUE(set.synced());
}

TEST(ZdsWireTest, CarriesAMessageAndADescriptor) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
  int fd = netnsFd();
  ASSERT_TRUE(send(sv[0], add("pod-1"), fd).ok());
  WorkloadRequest got;
  int received = -1;
  ASSERT_TRUE(receive(sv[1], got, &received, 1000).ok());
  EXPECT_EQ(got.add().uid(), "pod-1");
  ASSERT_GE(received, 0);
  netns::Netns a(fd), b(received);
  EXPECT_EQ(a.inode(), b.inode());
  auto timeout = receive(sv[1], got, &received, 10);
  ASSERT_FALSE(timeout.ok());
  EXPECT_EQ(timeout.error().code, ErrorCode::kDeadlineExceeded);
  ::close(sv[0]);
  auto closed = receive(sv[1], got, &received, 1000);
  ASSERT_FALSE(closed.ok());
  EXPECT_EQ(closed.error().code, ErrorCode::kUnavailable);
  ::close(sv[1]);
}

class ZdsEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ambit-test-zds-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/ztunnel.sock";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Pod pod(const std::string& uid) {
    Pod p;
    p.uid = uid;
    p.info.set_name(uid);
    p.info.set_namespace_("demo");
    p.netns = std::make_shared<netns::Netns>(netnsFd());
    return p;
  }

  // The ztunnel side: remembers the last pod set it was given.
  struct Seen {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::string> uids;
    bool waitFor(const std::vector<std::string>& want) {
      std::unique_lock lock(mu);
      return cv.wait_for(lock, 5s, [&] { return uids == want; });
    }
  };
  std::unique_ptr<Client> client(Seen& seen) {
    auto c = std::make_unique<Client>(ClientOptions{.path = path_, .initial_backoff = 10ms, .max_backoff = 50ms},
                                      [&seen](const Pods& pods) {
                                        std::lock_guard lock(seen.mu);
                                        seen.uids.clear();
                                        for (const auto& [uid, p] : pods) seen.uids.push_back(uid);
                                        seen.cv.notify_all();
                                        return std::map<std::string, std::string>{};
                                      });
    c->start();
    return c;
  }

  std::string dir_, path_;
};

TEST_F(ZdsEndToEndTest, SnapshotThenLiveChangesEachAcked) {
  auto server = Server::listen(ServerOptions{.path = path_});
  ASSERT_TRUE(server.ok()) << server.error().message;
  ASSERT_TRUE((*server)->add(pod("a")).ok());  // no ztunnel yet: kept for the replay
  Seen seen;
  auto c = client(seen);
  ASSERT_TRUE((*server)->waitConnected(1, 5s));
  EXPECT_TRUE(seen.waitFor({"a"}));
  EXPECT_TRUE(c->synced());
  // Live: add() returns once ztunnel acked, so the change is already applied.
  ASSERT_TRUE((*server)->add(pod("b")).ok());
  {
    std::lock_guard lock(seen.mu);
    EXPECT_EQ(seen.uids, (std::vector<std::string>{"a", "b"}));
  }
  ASSERT_TRUE((*server)->remove("a").ok());
  {
    std::lock_guard lock(seen.mu);
    EXPECT_EQ(seen.uids, (std::vector<std::string>{"b"}));
  }
}

TEST_F(ZdsEndToEndTest, AgentRestartKeepsPodsAndReplayDropsWhatWentMeanwhile) {
  Seen seen;
  std::unique_ptr<Client> c;
  {
    auto server = Server::listen(ServerOptions{.path = path_});
    ASSERT_TRUE(server.ok());
    ASSERT_TRUE((*server)->add(pod("a")).ok());
    ASSERT_TRUE((*server)->add(pod("b")).ok());
    c = client(seen);
    ASSERT_TRUE((*server)->waitConnected(1, 5s));
    ASSERT_TRUE(seen.waitFor({"a", "b"}));
  }
  // The agent is gone: ztunnel keeps serving both pods.
  std::this_thread::sleep_for(50ms);
  {
    std::lock_guard lock(seen.mu);
    EXPECT_EQ(seen.uids, (std::vector<std::string>{"a", "b"}));
  }
  // A new agent knows only b: after its replay, a is dropped.
  auto server = Server::listen(ServerOptions{.path = path_});
  ASSERT_TRUE(server.ok());
  ASSERT_TRUE((*server)->add(pod("b")).ok());
  ASSERT_TRUE((*server)->waitConnected(1, 5s));
  EXPECT_TRUE(seen.waitFor({"b"}));
}

TEST_F(ZdsEndToEndTest, TwoZtunnelsAreBothTold) {
  auto server = Server::listen(ServerOptions{.path = path_});
  ASSERT_TRUE(server.ok());
  Seen one, two;
  auto c1 = client(one);
  auto c2 = client(two);
  ASSERT_TRUE((*server)->waitConnected(2, 5s));
  ASSERT_TRUE((*server)->add(pod("a")).ok());
  EXPECT_TRUE(one.waitFor({"a"}));
  EXPECT_TRUE(two.waitFor({"a"}));
  c1->stop();
  // The first one left: the server notices (an add() to it before then would
  // report it lost) and still serves the other.
  for (int i = 0; i < 500 && (*server)->connected() > 1; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ((*server)->connected(), 1u);
  ASSERT_TRUE((*server)->add(pod("b")).ok());
  EXPECT_TRUE(two.waitFor({"a", "b"}));
}

}  // namespace
}  // namespace ambit::zds
