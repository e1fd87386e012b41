// The eBPF capture on the real kernel (root): sk_lookup's verdicts as a table
// through BPF_PROG_TEST_RUN, and the cgroup programs on a pod built from a
// network namespace and a cgroup this test makes (never the root cgroup). A
// private bpffs holds the pins; everything is removed at the end.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent/capture/ebpf.h"
#include "bpf/user/maps.h"
#include "tests/support/netns.h"
#include "tests/support/privileged.h"
#include "tests/support/process.h"

namespace ambit::agent {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

class EbpfTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AMBIT_REQUIRE_ROOT();
    char tmpl[] = "/tmp/ambit-test-bpffs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    bpffs_ = tmpl;
    ASSERT_EQ(::mount("bpf", bpffs_.c_str(), "bpf", 0, nullptr), 0) << std::strerror(errno);
    mounted_ = true;
    auto root = test::cgroup2Root();
    ASSERT_FALSE(root.empty()) << "no cgroup2 mount";
    cgroup_root_ = root;
    cgroup_ = root + "/" + test::uniqueName("ambt");
    ASSERT_TRUE(fs::create_directory(cgroup_));
    options_.pin_dir = bpffs_ + "/ambit";
    options_.cgroup = cgroup_;
  }

  void TearDown() override {
    if (capture_) {
      EXPECT_TRUE(capture_->unload().ok());
    }
    capture_.reset();
    for (const auto& c : children_) ::rmdir(c.c_str());
    if (!cgroup_.empty()) ::rmdir(cgroup_.c_str());
    if (mounted_) ::umount(bpffs_.c_str());
    if (!bpffs_.empty()) ::rmdir(bpffs_.c_str());
  }

  void load() {
    auto c = EbpfCapture::load(options_);
    ASSERT_TRUE(c.ok()) << c.error().message;
    capture_ = std::move(*c);
  }

  // A child cgroup for a pod's processes.
  std::string childCgroup(const std::string& name) {
    auto dir = cgroup_ + "/" + name;
    fs::create_directory(dir);
    children_.push_back(dir);
    return dir;
  }

  // python3 run inside `cg` and netns `ns`; it reports on stderr.
  std::unique_ptr<test::ChildProcess> python(const std::string& cg, const std::string& ns, const std::string& code) {
    return std::make_unique<test::ChildProcess>(
        "/bin/sh", std::vector<std::string>{"-c",
                                            "echo $$ > " + cg + "/cgroup.procs && exec ip netns exec " + ns +
                                                " /usr/bin/python3 -c \"$1\"",
                                            "helper", code});
  }

  std::string bpffs_, cgroup_root_, cgroup_;
  bool mounted_ = false;
  std::vector<std::string> children_;
  EbpfOptions options_;
  std::unique_ptr<EbpfCapture> capture_;
};

TEST_F(EbpfTest, RefusesTheRootCgroup) {
  options_.cgroup = cgroup_root_;
  auto c = EbpfCapture::load(options_);
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(c.error().message, HasSubstr("root cgroup"));
  EXPECT_FALSE(fs::exists(options_.pin_dir)) << "refused before anything was pinned";
  fs::remove_all(options_.pin_dir);
}

TEST_F(EbpfTest, SkLookupVerdictsTable) {
  options_.cgroup = "";  // programs only; nothing attached
  load();
  int prog = capture_->programFd("ambit_sk_lookup");
  ASSERT_GE(prog, 0);
  // 198.18.30.2 is a pod (netns cookie 1001) with a proxy socket, 198.18.30.3
  // a pod (cookie 1002) whose proxy is gone.
  for (auto [ip, cookie] : {std::pair{"198.18.30.2", uint64_t{1001}}, std::pair{"198.18.30.3", uint64_t{1002}}}) {
    auto key = bpf::addrKey(boost::asio::ip::make_address(ip));
    ASSERT_EQ(bpf_map_update_elem(capture_->mapFd(AMBIT_MAP_POD_ADDRS), &key, &cookie, BPF_ANY), 0);
  }
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(::listen(listener, 8), 0);
  uint64_t listener_cookie = 0;
  socklen_t len = sizeof(listener_cookie);
  ASSERT_EQ(::getsockopt(listener, SOL_SOCKET, SO_COOKIE, &listener_cookie, &len), 0);
  ambit_inbound_key key{.netns_cookie = 1001, .family = AF_INET, .pad = 0};
  uint64_t fd64 = static_cast<uint64_t>(listener);
  ASSERT_EQ(bpf_map_update_elem(capture_->mapFd(AMBIT_MAP_INBOUND), &key, &fd64, BPF_ANY), 0) << std::strerror(errno);

  struct Row {
    const char* what;
    int protocol;
    const char* local_ip;
    uint16_t local_port;
    const char* remote_ip;
    int verdict;    // SK_PASS 1 / SK_DROP 0
    bool steered;   // assigned to the proxy's socket
  };
  std::vector<Row> rows{
      {"UDP is not captured", IPPROTO_UDP, "198.18.30.2", 53, "198.18.30.50", 1, false},
      {"HBONE goes to ztunnel's own 15008 listener", IPPROTO_TCP, "198.18.30.2", 15008, "198.18.30.50", 1, false},
      {"an address of the pod the agent did not list: refused", IPPROTO_TCP, "198.18.30.99", 80, "198.18.30.50", 0,
       false},
      {"a pod's port goes to its proxy", IPPROTO_TCP, "198.18.30.2", 8080, "198.18.30.50", 1, true},
      {"any port of the pod", IPPROTO_TCP, "198.18.30.2", 22, "198.18.30.50", 1, true},
      {"from the pod's own address (ztunnel to the app): untouched", IPPROTO_TCP, "198.18.30.2", 8080, "198.18.30.2", 1,
       false},
      {"a pod without a proxy: dropped, never to the app", IPPROTO_TCP, "198.18.30.3", 8080, "198.18.30.50", 0, false},
  };
  for (const auto& r : rows) {
    bpf_sk_lookup in{}, out{};
    in.family = AF_INET;
    in.protocol = static_cast<uint32_t>(r.protocol);
    inet_pton(AF_INET, r.remote_ip, &in.remote_ip4);
    in.remote_port = htons(40000);
    inet_pton(AF_INET, r.local_ip, &in.local_ip4);
    in.local_port = r.local_port;
    LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &in, .ctx_out = &out, .ctx_size_in = sizeof(in),
                .ctx_size_out = sizeof(out));
    ASSERT_EQ(bpf_prog_test_run_opts(prog, &opts), 0) << r.what << ": " << std::strerror(errno);
    EXPECT_EQ(static_cast<int>(opts.retval), r.verdict) << r.what;
    EXPECT_EQ(out.cookie == listener_cookie, r.steered) << r.what;
  }
  auto counts = capture_->counters();
  EXPECT_EQ(counts["inbound_steered"], 2u);
  EXPECT_EQ(counts["inbound_no_proxy"], 1u);
  EXPECT_EQ(counts["inbound_not_pod"], 1u);
  ::close(listener);
}

TEST_F(EbpfTest, EnrolledPodsOutboundConnectReachesTheProxyWithItsOriginalDestination) {
  load();
  test::ScopedNetns pod(test::uniqueName("ambt"));
  auto cg = childCgroup("pod");
  PodCapture pc{pod.ns(), {boost::asio::ip::make_address("198.18.30.2")}};
  ASSERT_TRUE(capture_->enroll(pc).ok());
  // The stand-in proxy (in the pod's cgroup, so getsockopt is answered) on 127.0.0.1:15001.
  auto proxy = python(cg, pod.name(), R"PY(
import socket, struct, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('127.0.0.1', 15001)); l.listen(8); print('proxy-ready', file=sys.stderr, flush=True)
for i in range(2):
    c, peer = l.accept()
    raw = c.getsockopt(socket.SOL_IP, 80, 16)
    port, ip = struct.unpack('!2xH4s8x', raw)
    print('orig=%s:%d' % (socket.inet_ntoa(ip), port), file=sys.stderr, flush=True)
    c.sendall(b'ok'); c.close()
)PY");
  ASSERT_TRUE(proxy->waitForLine("proxy-ready", 10s)) << proxy->output();
  // The app dials an address that is not even routable here.
  auto app = python(cg, pod.name(), R"PY(
import socket, sys
s = socket.create_connection(('198.18.30.9', 8080), timeout=5)
print('peer=%s:%d' % s.getpeername(), 'got=%s' % s.recv(2).decode(), file=sys.stderr, flush=True)
)PY");
  auto seen = app->waitForLine("peer=", 10s);
  ASSERT_TRUE(seen) << app->output() << proxy->output();
  EXPECT_THAT(*seen, HasSubstr("peer=198.18.30.9:8080 got=ok"));  // getpeername shows what it dialled
  auto orig = proxy->waitForLine("orig=", 10s);
  ASSERT_TRUE(orig) << proxy->output();
  EXPECT_THAT(*orig, HasSubstr("orig=198.18.30.9:8080"));
  auto counts = capture_->counters();
  EXPECT_GE(counts["connect_redirected"], 1u);
  EXPECT_GE(counts["origdst_answered"], 1u);
  EXPECT_GE(counts["peername_rewritten"], 1u);

  // Released: the same dial is no longer captured (nothing routes it: it fails
  // on its own, it does not reach the proxy).
  ASSERT_TRUE(capture_->release(pc).ok());
  auto direct = python(cg, pod.name(), R"PY(
import socket, sys
try:
    socket.create_connection(('198.18.30.9', 8080), timeout=2); print('result=connected', file=sys.stderr, flush=True)
except OSError as e:
    print('result=%s' % e.__class__.__name__, file=sys.stderr, flush=True)
)PY");
  auto r = direct->waitForLine("result=", 10s);
  ASSERT_TRUE(r) << direct->output();
  EXPECT_THAT(*r, ::testing::Not(HasSubstr("result=connected")));
  EXPECT_FALSE(proxy->waitForLine("orig=", 500ms));
  EXPECT_TRUE(fs::exists(options_.pin_dir + "/ambit_pods"));
  EXPECT_TRUE(capture_->enrolled().empty());
}

}  // namespace
}  // namespace ambit::agent
