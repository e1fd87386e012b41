#!/usr/bin/python3
"""L4 benchmarks of the design's benchmarks.md, Ambit and its peers in one run.

Two "pods" (network namespaces joined by a veth, 198.18.20.2 -> 198.18.20.3)
and four ways between them, alternated round by round:
  direct   the client dials the server (the ceiling)
  stunnel  stunnel4 pair, TLS 1.3 with client certificates (mutual TLS)
  haproxy  haproxy pair, TLS 1.3 with client certificates
  ambit    ambitd + one ztunnel per "node" in in-pod mode: the client's
           connection is captured (in-pod iptables REDIRECT to 15001, the
           agent's fallback capture) and carried over HBONE/mTLS to the
           server's ztunnel (15008), which connects to the server.
Shapes: l4-throughput (iperf3, one stream), l4-rr-latency (1 KiB ping-pong on
one connection), l4-conn-rate (a connection per 100 B exchange),
cpu-per-krps (1000 requests/s of 1 KiB: CPU and RSS of each proxy pair),
ztunnel-memory (RSS with N workloads in WDS; bytes per idle connection).

Run as root from the repo root after a Release build:
  BUILD_TYPE=Release BUILD_DIR=build-release scripts/build.sh
  sudo bench/l4.py --build build-release --out /tmp/l4.md
Everything it makes (netns "ambb<pid>c/s", processes, a temp dir) is removed
on exit, also on failure.
"""
import argparse
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

CLIENT_IP = "198.18.20.2"
SERVER_IP = "198.18.20.3"
IPERF_PORT = 5201
LOAD_PORT = 7000
MODES = ["direct", "stunnel", "haproxy", "ambit"]
# Where the client dials, per mode: (iperf3, tcp_load).
TARGETS = {
    "direct": ((SERVER_IP, IPERF_PORT), (SERVER_IP, LOAD_PORT)),
    "stunnel": (("127.0.0.1", 7101), ("127.0.0.1", 7102)),
    "haproxy": (("127.0.0.1", 8101), ("127.0.0.1", 8102)),
    "ambit": ((SERVER_IP, IPERF_PORT), (SERVER_IP, LOAD_PORT)),  # captured
}
CAPTURE_RULES = [
    "-t nat -A OUTPUT -p tcp -m mark --mark 0x539 -j RETURN",
    "-t nat -A OUTPUT -p tcp -o lo -j RETURN",
    "-t nat -A OUTPUT -p tcp -j REDIRECT --to-ports 15001",
    "-t nat -A PREROUTING -p tcp -i lo -j RETURN",
    "-t nat -A PREROUTING -p tcp --dport 15008 -j RETURN",
    "-t nat -A PREROUTING -p tcp -j REDIRECT --to-ports 15006",
]


def log(msg):
    print(f"[l4] {msg}", file=sys.stderr, flush=True)


def run(cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, text=True, capture_output=True, **kw)


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.dir = tempfile.mkdtemp(prefix="ambit-bench-l4-")
        self.prefix = f"ambb{os.getpid() % 100000}"
        self.ns_c = self.prefix + "c"
        self.ns_s = self.prefix + "s"
        self.procs = {}  # name -> Popen
        self.namespaces = []

    # ---- set-up and tear-down -------------------------------------------------
    def spawn(self, name, cmd, ns=None):
        if ns:
            cmd = ["ip", "netns", "exec", ns] + cmd
        out = open(os.path.join(self.dir, name + ".log"), "w")
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, preexec_fn=raise_fd_limit,
                             start_new_session=True)
        self.procs[name] = p
        return p

    def wait_log(self, name, pattern, timeout=30):
        path = os.path.join(self.dir, name + ".log")
        deadline = time.time() + timeout
        while time.time() < deadline:
            with open(path) as f:
                m = re.search(pattern, f.read())
            if m:
                return m
            if self.procs[name].poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{name}: no '{pattern}' in its log:\n" + open(path).read()[-3000:])

    def wait_port(self, ns, ip, port, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = run(["ip", "netns", "exec", ns, "bash", "-c", f"exec 3<>/dev/tcp/{ip}/{port}"], check=False)
            if r.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"nothing listening on {ip}:{port} in {ns}")

    def netns(self):
        for ns in (self.ns_c, self.ns_s):
            run(["ip", "netns", "add", ns])
            self.namespaces.append(ns)
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        run(["ip", "-n", self.ns_c, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", self.ns_s])
        for ns, ip in ((self.ns_c, CLIENT_IP), (self.ns_s, SERVER_IP)):
            run(["ip", "-n", ns, "addr", "add", ip + "/24", "dev", "eth0"])
            run(["ip", "-n", ns, "link", "set", "eth0", "up"])
            # Connection-rate runs open tens of thousands of connections: reuse
            # TIME_WAIT ports, as any busy client host is set up to.
            run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", "net.ipv4.tcp_tw_reuse=1",
                 "net.ipv4.ip_local_port_range=10000 65000"])

    def capture(self, on):
        for ns in (self.ns_c, self.ns_s):
            run(["ip", "netns", "exec", ns, "iptables", "-t", "nat", "-F"])
            if on:
                for rule in CAPTURE_RULES:
                    run(["ip", "netns", "exec", ns, "iptables"] + rule.split())

    def certs(self):
        d = self.dir
        sh = lambda c: run(["bash", "-c", c], cwd=d)
        sh("openssl ecparam -name prime256v1 -genkey -noout -out ca.key && "
           "openssl req -x509 -new -key ca.key -subj /CN=bench-ca -days 2 -out ca.crt")
        for n in ("server", "client"):
            sh(f"openssl ecparam -name prime256v1 -genkey -noout -out {n}.key && "
               f"openssl req -new -key {n}.key -subj /CN={n} -out {n}.csr && "
               f"openssl x509 -req -in {n}.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out {n}.crt && "
               f"cat {n}.crt {n}.key > {n}.pem")

    def start_servers(self):
        self.spawn("iperf3", ["iperf3", "-s", "-p", str(IPERF_PORT)], self.ns_s)
        self.spawn("echo", [os.path.join(self.build, "bench/tcp_load"), "server", "--port", str(LOAD_PORT)], self.ns_s)
        self.wait_port(self.ns_s, SERVER_IP, IPERF_PORT)
        self.wait_port(self.ns_s, SERVER_IP, LOAD_PORT)

    def start_stunnel(self):
        d = self.dir
        common = f"foreground = yes\npid =\nsslVersionMin = TLSv1.3\nCAfile = {d}/ca.crt\nverifyChain = yes\n"
        server = common + f"cert = {d}/server.crt\nkey = {d}/server.key\n"
        client = common + f"client = yes\ncert = {d}/client.crt\nkey = {d}/client.key\n"
        for i, (sp, lp) in enumerate(((IPERF_PORT, 7101), (LOAD_PORT, 7102))):
            server += f"[s{i}]\naccept = {SERVER_IP}:{7443 + i}\nconnect = 127.0.0.1:{sp}\n"
            client += f"[c{i}]\naccept = 127.0.0.1:{lp}\nconnect = {SERVER_IP}:{7443 + i}\n"
        open(f"{d}/stunnel-s.conf", "w").write(server)
        open(f"{d}/stunnel-c.conf", "w").write(client)
        self.spawn("stunnel-server", ["stunnel4", f"{d}/stunnel-s.conf"], self.ns_s)
        self.spawn("stunnel-client", ["stunnel4", f"{d}/stunnel-c.conf"], self.ns_c)
        self.wait_port(self.ns_c, "127.0.0.1", 7101)
        self.wait_port(self.ns_c, "127.0.0.1", 7102)

    def start_haproxy(self):
        d = self.dir
        head = ("global\n  maxconn 5000\n  nbthread 2\ndefaults\n  mode tcp\n  timeout connect 5s\n"
                "  timeout client 120s\n  timeout server 120s\n")
        server, client = head, head
        for i, (sp, lp) in enumerate(((IPERF_PORT, 8101), (LOAD_PORT, 8102))):
            server += (f"frontend f{i}\n  bind {SERVER_IP}:{8443 + i} ssl crt {d}/server.pem ca-file {d}/ca.crt "
                       f"verify required ssl-min-ver TLSv1.3\n  default_backend b{i}\n"
                       f"backend b{i}\n  server s 127.0.0.1:{sp}\n")
            client += (f"frontend f{i}\n  bind 127.0.0.1:{lp}\n  default_backend b{i}\n"
                       f"backend b{i}\n  server s {SERVER_IP}:{8443 + i} ssl crt {d}/client.pem ca-file {d}/ca.crt "
                       f"verify required ssl-min-ver TLSv1.3\n")
        open(f"{d}/haproxy-s.cfg", "w").write(server)
        open(f"{d}/haproxy-c.cfg", "w").write(client)
        self.spawn("haproxy-server", ["haproxy", "-db", "-f", f"{d}/haproxy-s.cfg"], self.ns_s)
        self.spawn("haproxy-client", ["haproxy", "-db", "-f", f"{d}/haproxy-c.cfg"], self.ns_c)
        self.wait_port(self.ns_c, "127.0.0.1", 8101)
        self.wait_port(self.ns_c, "127.0.0.1", 8102)

    def mesh_yaml(self):
        return f"""apiVersion: v1
kind: Namespace
metadata: {{name: bench, labels: {{istio.io/dataplane-mode: ambient}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: client, namespace: bench, labels: {{app: client}}}}
spec: {{serviceAccountName: client, nodeName: node-a}}
status: {{podIP: {CLIENT_IP}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: server, namespace: bench, labels: {{app: server}}}}
spec: {{serviceAccountName: server, nodeName: node-b}}
status: {{podIP: {SERVER_IP}}}
"""

    def start_ambit(self):
        d = self.dir
        os.makedirs(f"{d}/config")
        open(f"{d}/config/mesh.yaml", "w").write(self.mesh_yaml())
        open(f"{d}/tokens.yaml", "w").write("nodes:\n- {name: node-a, token: node-a-token-0123456789}\n"
                                            "- {name: node-b, token: node-b-token-0123456789}\n")
        for n in ("a", "b"):
            open(f"{d}/{n}.token", "w").write(f"node-{n}-token-0123456789\n")
        self.spawn("ambitd", [os.path.join(self.build, "controlplane/ambitd"), "--config_dir", f"{d}/config",
                              "--xds.address", "127.0.0.1", "--xds.plaintext_port", "0", "--xds.tls_port", "0",
                              "--ca.state_dir", f"{d}/state", "--ca.cacerts_dir", f"{d}/no-cacerts",
                              "--ca.token_file", f"{d}/tokens.yaml", "--admin.port", "0",
                              "--admin.stats_address", "127.0.0.1", "--admin.stats_port", "0",
                              "--admin.readiness_address", "127.0.0.1", "--admin.readiness_port", "0",
                              "--workers", "1"])
        tls_port = self.wait_log("ambitd", r"msg=xds_listening.*tls_port=(\d+)").group(1)
        self.ztunnel_admin = {}
        self.ztunnel_stats = {}
        for node, ns, pod in (("a", self.ns_c, "client"), ("b", self.ns_s, "server")):
            self.spawn(f"agent-{node}", [os.path.join(self.build, "bench/zds_agent"), "--socket", f"{d}/{node}.sock",
                                         "--pod", f"Kubernetes//Pod/bench/{pod},bench,{pod},{pod},/run/netns/{ns}"])
            self.wait_log(f"agent-{node}", r"serving")
            self.spawn(f"ztunnel-{node}", [
                os.path.join(self.build, "ztunnel/ztunnel"), "--node_name", f"node-{node}",
                "--xds.address", f"127.0.0.1:{tls_port}", "--xds.root_cert", f"{d}/state/root-cert.pem",
                "--ca.token_file", f"{d}/{node}.token", "--admin.port", "0", "--admin.stats_address", "127.0.0.1",
                "--admin.stats_port", "0", "--admin.readiness_address", "127.0.0.1", "--admin.readiness_port", "0",
                "--socks5.address", "", "--inpod.enabled", "true", "--inpod.socket", f"{d}/{node}.sock",
                "--workers", str(self.args.ztunnel_workers)])
            m = self.wait_log(f"ztunnel-{node}", r"msg=started .*admin=127\.0\.0\.1:(\d+).*readiness=127\.0\.0\.1:(\d+)")
            self.ztunnel_admin[node] = int(m.group(1))
            self.ztunnel_stats[node] = int(re.search(r"stats=127\.0\.0\.1:(\d+)", m.group(0)).group(1))
            ready_port = int(m.group(2))
            deadline = time.time() + 30
            while True:
                try:
                    if urllib.request.urlopen(f"http://127.0.0.1:{ready_port}/healthz/ready", timeout=2).status == 200:
                        break
                except Exception:
                    pass
                if time.time() > deadline:
                    raise RuntimeError(f"ztunnel-{node} not ready:\n" + open(f"{d}/ztunnel-{node}.log").read()[-3000:])
                time.sleep(0.1)

    def cleanup(self):
        for name, p in self.procs.items():
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for name, p in self.procs.items():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for ns in self.namespaces:
            run(["ip", "netns", "del", ns], check=False)
        if self.args.keep_logs:
            log(f"logs kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---- measurement ------------------------------------------------------------
    def client(self, cmd, timeout=120):
        r = run(["ip", "netns", "exec", self.ns_c] + cmd, timeout=timeout)
        return r.stdout

    def tcp_load(self, mode, *args):
        ip, port = TARGETS[mode][1]
        out = self.client([os.path.join(self.build, "bench/tcp_load")] + list(args[:1]) +
                          ["--target", f"{ip}:{port}"] + list(args[1:]))
        return json.loads(out.strip().splitlines()[-1])

    def throughput(self, mode):
        ip, port = TARGETS[mode][0]
        out = self.client(["iperf3", "-c", ip, "-p", str(port), "-t", str(self.args.seconds), "-J"],
                          timeout=self.args.seconds + 60)
        return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e9

    def proxy_pids(self, mode):
        names = {"stunnel": ["stunnel-client", "stunnel-server"], "haproxy": ["haproxy-client", "haproxy-server"],
                 "ambit": ["ztunnel-a", "ztunnel-b"]}.get(mode, [])
        pids = []
        for n in names:
            # `ip netns exec` execs the program, so the Popen pid is the proxy's.
            pids.append(self.procs[n].pid)
        return pids

    @staticmethod
    def cpu_seconds(pid):
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def rss_mib(pid, field="VmRSS"):
        """VmRSS (all resident pages, shared library code included) or RssAnon (the process's own heap and stacks)."""
        for line in open(f"/proc/{pid}/status"):
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu_per_krps(self, mode):
        pids = self.proxy_pids(mode)
        before = [self.cpu_seconds(p) for p in pids]
        r = self.tcp_load(mode, "rate", "--size", "1024", "--rps", "1000", "--connections", "10",
                          "--seconds", str(self.args.cpu_seconds))
        after = [self.cpu_seconds(p) for p in pids]
        secs = r["seconds"]
        krps = r["per_second"] / 1000
        cpu = [(a - b) / secs / krps for a, b in zip(after, before)]
        rss = [self.rss_mib(p) for p in pids]
        anon = [self.rss_mib(p, "RssAnon") for p in pids]
        return {"achieved_rps": r["per_second"], "errors": r["errors"], "p50_us": r["p50_us"], "p99_us": r["p99_us"],
                "vcpu_per_krps": cpu, "rss_mib": rss, "anon_mib": anon}

    def ztunnel_memory(self):
        """RSS of the client node's ztunnel with N extra workloads in WDS, and per idle connection."""
        out = {}
        za = self.procs["ztunnel-a"].pid
        stats = self.ztunnel_stats["a"]

        def workloads():
            # The gauge, not /config_dump: building 100k workloads' JSON would itself grow the RSS measured.
            with urllib.request.urlopen(f"http://127.0.0.1:{stats}/stats/prometheus", timeout=10) as r:
                m = re.search(r'^ambit_ztunnel_xds_objects\{kind="workload"\} (\S+)$', r.read().decode(), re.M)
                return int(float(m.group(1))) if m else 0

        def settle(want, timeout):
            deadline = time.time() + timeout
            while time.time() < deadline:
                if workloads() >= want:
                    time.sleep(1.0)
                    return True
                time.sleep(0.2)
            return False

        base_count = workloads()
        base_rss = self.rss_mib(za)
        out["base"] = {"workloads": base_count, "rss_mib": base_rss, "anon_mib": self.rss_mib(za, "RssAnon")}
        for n in self.args.memory_workloads:
            path = f"{self.dir}/config/extra.yaml"
            with open(path + ".tmp", "w") as f:
                for i in range(n):
                    # IPv6 documentation addresses: any count fits.
                    f.write(f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: w{i}, namespace: bench, "
                            f"labels: {{app: w{i % 100}}}}}\nspec: {{serviceAccountName: sa{i % 100}, "
                            f"nodeName: node-x}}\nstatus: {{podIP: '2001:db8:1::{i // 65536:x}:{i % 65536:x}'}}\n")
            t0 = time.time()
            os.rename(path + ".tmp", path)
            ok = settle(base_count + n, timeout=600)
            rss = self.rss_mib(za)
            out[n] = {"synced": ok, "seconds": round(time.time() - t0, 1), "rss_mib": rss,
                      "anon_mib": self.rss_mib(za, "RssAnon"),
                      "bytes_per_workload": (rss - base_rss) * 1048576 / n}
            log(f"ztunnel-memory: {n} workloads -> RSS {rss:.1f} MiB ({out[n]['bytes_per_workload']:.0f} B each)")
        # Idle connections through both proxies.
        os.remove(f"{self.dir}/config/extra.yaml")
        settle(0, 5)
        self.capture(True)
        pids = self.proxy_pids("ambit")
        before = [self.rss_mib(p) for p in pids]
        k = self.args.idle_connections
        ip, port = TARGETS["ambit"][1]
        holder = subprocess.Popen(["ip", "netns", "exec", self.ns_c, os.path.join(self.build, "bench/tcp_load"), "hold",
                                   "--target", f"{ip}:{port}", "--connections", str(k), "--seconds", "6"],
                                  stdout=subprocess.PIPE, text=True, preexec_fn=raise_fd_limit)
        opened = json.loads(holder.stdout.readline())
        time.sleep(1.0)
        during = [self.rss_mib(p) for p in pids]
        holder.wait(timeout=30)
        self.capture(False)
        out["idle"] = {"connections": opened["open"], "errors": opened["errors"],
                       "bytes_per_connection": [(d - b) * 1048576 / max(1, opened["open"]) for d, b in zip(during, before)]}
        return out


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build-release", help="build directory (Release)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5, help="iperf3 seconds per run")
    ap.add_argument("--rr-iterations", type=int, default=20000)
    ap.add_argument("--crr-seconds", type=int, default=5)
    ap.add_argument("--crr-concurrency", type=int, default=4)
    ap.add_argument("--cpu-seconds", type=int, default=10)
    ap.add_argument("--ztunnel-workers", type=int, default=2)
    ap.add_argument("--memory-workloads", type=lambda s: [int(x) for x in s.split(",") if x], default=[1000, 10000])
    ap.add_argument("--idle-connections", type=int, default=1000)
    ap.add_argument("--shapes", default="throughput,rr,crr,cpu,memory")
    ap.add_argument("--modes", default=",".join(MODES), help="subset of modes (profiling; the report needs all four)")
    ap.add_argument("--out", default="-", help="markdown results ('-' = stdout)")
    ap.add_argument("--keep-logs", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/l4.py needs root (network namespaces, iptables)", file=sys.stderr)
        sys.exit(1 if os.environ.get("CI") == "true" else 77)  # 77: ctest's skip, never in CI
    for tool in ("iperf3", "stunnel4", "haproxy", "openssl", "iptables"):
        if shutil.which(tool) is None:
            sys.exit(f"missing {tool}: run scripts/install-deps.sh")
    shapes = set(args.shapes.split(","))
    b = Bench(args)
    results = {m: {"throughput": [], "rr": [], "crr": [], "cpu": []} for m in MODES}
    memory = None
    started = time.time()
    try:
        b.netns()
        b.certs()
        b.start_servers()
        b.start_stunnel()
        b.start_haproxy()
        b.start_ambit()
        log(f"set up in {time.time() - started:.1f} s; logs in {b.dir}")
        modes = [m for m in MODES if m in args.modes.split(",")]
        for rnd in range(args.rounds):
            order = modes[rnd % len(modes):] + modes[:rnd % len(modes)]  # rotate who goes first
            for mode in order:
                b.capture(mode == "ambit")
                if "throughput" in shapes:
                    results[mode]["throughput"].append(b.throughput(mode))
                if "rr" in shapes:
                    results[mode]["rr"].append(b.tcp_load(mode, "rr", "--size", "1024", "--iterations",
                                                          str(args.rr_iterations)))
                if "crr" in shapes:
                    results[mode]["crr"].append(b.tcp_load(mode, "crr", "--size", "100", "--seconds",
                                                           str(args.crr_seconds), "--concurrency",
                                                           str(args.crr_concurrency)))
                if "cpu" in shapes and mode != "direct" and rnd == 0:
                    results[mode]["cpu"].append(b.cpu_per_krps(mode))
                log(f"round {rnd + 1}/{args.rounds} {mode}: done")
            b.capture(False)
        if "memory" in shapes:
            memory = b.ztunnel_memory()
    finally:
        b.cleanup()
    if len(modes) < len(MODES):
        print(json.dumps(results, indent=1))
        return
    report = render(args, results, memory, time.time() - started)
    if args.out == "-":
        print(report)
    else:
        open(args.out, "w").write(report)
        log(f"results in {args.out}")


def render(args, results, memory, elapsed):
    peers = ["stunnel", "haproxy"]
    lines = [f"Command: `bench/l4.py --build {args.build} --rounds {args.rounds}` ({elapsed:.0f} s; "
             f"medians of {args.rounds} rounds, modes alternated; ztunnel workers: {args.ztunnel_workers})", ""]

    def ratio(a, b):
        return f"{a / b:.2f}x" if b else "-"

    if results["ambit"]["throughput"]:
        t = {m: median(results[m]["throughput"]) for m in MODES}
        best = max(t[p] for p in peers)
        lines += ["| l4-throughput (iperf3, 1 stream, Gbit/s) | direct | stunnel | haproxy | ambit |",
                  "|---|---|---|---|---|",
                  "| median | " + " | ".join(f"{t[m]:.2f}" for m in MODES) + " |",
                  f"| ambit / best peer, ambit / direct | | | | {ratio(t['ambit'], best)}, {100 * t['ambit'] / t['direct']:.0f} % |",
                  "| target | | | | >= 1.5x best peer, >= 40 % of direct |", ""]
    if results["ambit"]["rr"]:
        lines += ["| l4-rr-latency (1 KiB ping-pong, one connection, µs) | direct | stunnel | haproxy | ambit |",
                  "|---|---|---|---|---|"]
        for k, name in (("p50_us", "p50"), ("p99_us", "p99"), ("p999_us", "p99.9")):
            v = {m: median([r[k] for r in results[m]["rr"]]) for m in MODES}
            lines.append(f"| {name} | " + " | ".join(f"{v[m]:.1f}" for m in MODES) + " |")
        p50 = {m: median([r["p50_us"] for r in results[m]["rr"]]) for m in MODES}
        lines += [f"| ambit p50 / direct p50 | | | | {ratio(p50['ambit'], p50['direct'])} |",
                  "| target | | | | <= 2.5x direct (Istio ztunnel: 4x) |", ""]
    if results["ambit"]["crr"]:
        c = {m: median([r["per_second"] for r in results[m]["crr"]]) for m in MODES}
        errs = {m: sum(r["errors"] for r in results[m]["crr"]) for m in MODES}
        best = max(c[p] for p in peers)
        lines += [f"| l4-conn-rate (connect, 100 B each way, close; {args.crr_concurrency} clients; conns/s) | direct | stunnel | haproxy | ambit |",
                  "|---|---|---|---|---|",
                  "| median | " + " | ".join(f"{c[m]:.0f}" for m in MODES) + " |",
                  "| errors (all rounds) | " + " | ".join(str(errs[m]) for m in MODES) + " |",
                  f"| ambit / best peer, ambit / direct | | | | {ratio(c['ambit'], best)}, {100 * c['ambit'] / c['direct']:.0f} % |",
                  "| target | | | | >= 3x best peer, >= 50 % of direct |", ""]
    if results["ambit"]["cpu"]:
        lines += ["| cpu-per-krps (1000 req/s of 1 KiB on 10 connections) | stunnel pair | haproxy pair | ambit (ztunnel pair) |",
                  "|---|---|---|---|"]
        cpu = {m: results[m]["cpu"][0] for m in peers + ["ambit"]}
        lines.append("| achieved req/s | " + " | ".join(f"{cpu[m]['achieved_rps']:.0f}" for m in peers + ["ambit"]) + " |")
        lines.append("| vCPU per 1000 req/s, client side / server side | " + " | ".join(
            f"{cpu[m]['vcpu_per_krps'][0]:.3f} / {cpu[m]['vcpu_per_krps'][1]:.3f}" for m in peers + ["ambit"]) + " |")
        lines.append("| RSS MiB (all resident pages), client side / server side | " + " | ".join(
            f"{cpu[m]['rss_mib'][0]:.1f} / {cpu[m]['rss_mib'][1]:.1f}" for m in peers + ["ambit"]) + " |")
        lines.append("| of which anonymous (heap, stacks) MiB | " + " | ".join(
            f"{cpu[m]['anon_mib'][0]:.1f} / {cpu[m]['anon_mib'][1]:.1f}" for m in peers + ["ambit"]) + " |")
        lines.append("| p50 / p99 latency µs | " + " | ".join(
            f"{cpu[m]['p50_us']:.0f} / {cpu[m]['p99_us']:.0f}" for m in peers + ["ambit"]) + " |")
        lines += ["| target (per proxy) | | | <= 0.03 vCPU, <= 12 MB; Istio published: ztunnel 0.06 vCPU + 12 MB |", ""]
    if memory:
        lines += ["| ztunnel-memory | workloads in WDS | RSS MiB (anonymous) | bytes per workload | synced in |",
                  "|---|---|---|---|---|",
                  f"| baseline | {memory['base']['workloads']} | {memory['base']['rss_mib']:.1f} "
                  f"({memory['base']['anon_mib']:.1f}) | | |"]
        for n in args.memory_workloads:
            m = memory[n]
            lines.append(f"| +{n} | {memory['base']['workloads'] + n} | {m['rss_mib']:.1f} ({m['anon_mib']:.1f}) | "
                         f"{m['bytes_per_workload']:.0f} | {m['seconds']} s{'' if m['synced'] else ' (not synced!)'} |")
        idle = memory["idle"]
        lines += ["", f"| idle connections through the pair | {idle['connections']} open ({idle['errors']} errors) |",
                  "|---|---|",
                  f"| bytes per connection, client ztunnel / server ztunnel | "
                  f"{idle['bytes_per_connection'][0]:.0f} / {idle['bytes_per_connection'][1]:.0f} |",
                  "| target | <= 2 KB per workload; <= 64 KiB per idle connection (Istio ztunnel: ~3 KB per pod) |", ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
