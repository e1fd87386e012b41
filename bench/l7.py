#!/usr/bin/python3
"""l7-rps of the design's benchmarks.md: the waypoint against haproxy and nginx
doing the same routing, with mutual TLS on every hop, in one run.

Three network namespaces: the client pod (198.18.20.2), the server pod
(198.18.20.3, nginx serving 1 KiB on :8080) joined by a veth, and a "proxy
node" (198.18.21.2, routed through the server pod's namespace) where the L7
proxy under test runs. Three ways from client to server, each with three
proxies and TLS 1.3 with client certificates between them:
  haproxy  haproxy (client side, TCP -> TLS) -> haproxy L7 (TLS in, routing,
           TLS out) -> haproxy (server side, TLS -> TCP)
  nginx    the same outer haproxy pair -> nginx L7 (TLS in, routing, TLS out)
  ambit    ztunnel (client pod, in-pod capture) -> HBONE -> waypoint (routing)
           -> HBONE -> ztunnel (server pod); ambitd, both ztunnels and the
           waypoint run in the proxy node's namespace
Routing is the same everywhere: a header match (x-canary: yes -> v2), then a
path prefix (/static -> v1), then a default; requests take the path rule.
Shapes: l7-rps (HTTP/1.1 keep-alive GETs of 1 KiB, h2load, fixed client
count, as fast as it goes) and CPU seconds per 1000 requests and RSS of each
L7 proxy at a fixed 1000 req/s. Access logs are off on all three.

Run as root from the repo root after a Release build:
  BUILD_TYPE=Release BUILD_DIR=build-release scripts/build.sh
  sudo bench/l7.py --build build-release --out /tmp/l7.md
Everything it makes (netns "ambb<pid>c/s/w", processes, a temp dir) is
removed on exit, also on failure.
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import l4  # noqa: E402  (the namespaces, certificates, process and capture handling)

CLIENT_IP, SERVER_IP = l4.CLIENT_IP, l4.SERVER_IP
NODE_IP = "198.18.21.2"      # the proxy node (waypoint pod address)
NODE_GW = "198.18.21.1"      # the server pod namespace's end of that link
SERVICE_VIP = "198.18.23.20"
WAYPOINT_VIP = "198.18.23.2"
BACKEND_PORT = 8080
MODES = ["haproxy", "nginx", "ambit"]
URLS = {
    "haproxy": "http://127.0.0.1:9101/static/1k",
    "nginx": "http://127.0.0.1:9102/static/1k",
    "ambit": f"http://{SERVICE_VIP}/static/1k",  # captured by the client pod's ztunnel
}


def log(msg):
    print(f"[l7] {msg}", file=sys.stderr, flush=True)


class L7Bench(l4.Bench):
    def __init__(self, args):
        super().__init__(args)
        self.ns_w = self.prefix + "w"

    def netns(self):
        super().netns()
        l4.run(["ip", "netns", "add", self.ns_w])
        self.namespaces.append(self.ns_w)
        l4.run(["ip", "-n", self.ns_w, "link", "set", "lo", "up"])
        l4.run(["ip", "-n", self.ns_w, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1",
                "netns", self.ns_s])
        l4.run(["ip", "-n", self.ns_w, "addr", "add", NODE_IP + "/24", "dev", "eth0"])
        l4.run(["ip", "-n", self.ns_w, "link", "set", "eth0", "up"])
        l4.run(["ip", "-n", self.ns_s, "addr", "add", NODE_GW + "/24", "dev", "eth1"])
        l4.run(["ip", "-n", self.ns_s, "link", "set", "eth1", "up"])
        l4.run(["ip", "netns", "exec", self.ns_s, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])
        l4.run(["ip", "-n", self.ns_w, "route", "add", "198.18.20.0/24", "via", NODE_GW])
        # The client pod reaches the proxy node and the service VIPs through the server pod's namespace.
        l4.run(["ip", "-n", self.ns_c, "route", "add", "198.18.21.0/24", "via", SERVER_IP])
        l4.run(["ip", "-n", self.ns_c, "route", "add", "198.18.23.0/24", "via", SERVER_IP])

    def nginx_http_common(self):
        d = self.dir
        return (f"access_log off; keepalive_requests 1000000; client_body_temp_path {d}/tmp; "
                f"proxy_temp_path {d}/tmp; fastcgi_temp_path {d}/tmp; uwsgi_temp_path {d}/tmp; "
                f"scgi_temp_path {d}/tmp;")

    def start_backend(self):
        d = self.dir
        os.makedirs(f"{d}/www/static")
        with open(f"{d}/www/static/1k", "w") as f:
            f.write("x" * 1024)
        open(f"{d}/backend.conf", "w").write(f"""worker_processes 1;
pid {d}/backend.pid;
error_log {d}/backend-error.log;
user root;
events {{ worker_connections 4096; }}
http {{
  {self.nginx_http_common()}
  server {{ listen {BACKEND_PORT}; root {d}/www; }}
}}
""")
        os.makedirs(f"{d}/tmp", exist_ok=True)
        self.spawn("backend", ["nginx", "-c", f"{d}/backend.conf", "-g", "daemon off;"], self.ns_s)
        self.wait_port(self.ns_s, SERVER_IP, BACKEND_PORT)

    def start_outer(self):
        """The TCP <-> TLS haproxy pair around the haproxy and nginx L7 proxies."""
        d = self.dir
        head = ("global\n  maxconn 5000\n  nbthread 2\ndefaults\n  mode tcp\n  timeout connect 5s\n"
                "  timeout client 120s\n  timeout server 120s\n")
        client = head
        for port, l7 in ((9101, 9443), (9102, 9445)):
            client += (f"frontend f{port}\n  bind 127.0.0.1:{port}\n  default_backend b{port}\n"
                       f"backend b{port}\n  server s {NODE_IP}:{l7} ssl crt {d}/client.pem ca-file {d}/ca.crt "
                       f"verify required ssl-min-ver TLSv1.3\n")
        server = head + (f"frontend f\n  bind {SERVER_IP}:9444 ssl crt {d}/server.pem ca-file {d}/ca.crt "
                         f"verify required ssl-min-ver TLSv1.3\n  default_backend b\n"
                         f"backend b\n  server s 127.0.0.1:{BACKEND_PORT}\n")
        open(f"{d}/outer-c.cfg", "w").write(client)
        open(f"{d}/outer-s.cfg", "w").write(server)
        self.spawn("outer-client", ["haproxy", "-db", "-f", f"{d}/outer-c.cfg"], self.ns_c)
        self.spawn("outer-server", ["haproxy", "-db", "-f", f"{d}/outer-s.cfg"], self.ns_s)
        self.wait_port(self.ns_c, "127.0.0.1", 9101)
        self.wait_port(self.ns_s, SERVER_IP, 9444)

    def start_haproxy_l7(self):
        d = self.dir
        tls_out = f"ssl crt {d}/client.pem ca-file {d}/ca.crt verify required ssl-min-ver TLSv1.3"
        cfg = f"""global
  maxconn 5000
  nbthread 2
defaults
  mode http
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  http-reuse always
frontend l7
  bind {NODE_IP}:9443 ssl crt {d}/server.pem ca-file {d}/ca.crt verify required ssl-min-ver TLSv1.3
  acl canary req.hdr(x-canary) -m str yes
  acl static path_beg /static
  use_backend v2 if canary
  use_backend v1 if static
  default_backend v1
backend v1
  server s {SERVER_IP}:9444 {tls_out}
backend v2
  server s {SERVER_IP}:9444 {tls_out}
"""
        open(f"{d}/haproxy-l7.cfg", "w").write(cfg)
        self.spawn("haproxy-l7", ["haproxy", "-db", "-f", f"{d}/haproxy-l7.cfg"], self.ns_w)
        self.wait_port(self.ns_w, NODE_IP, 9443)

    def start_nginx_l7(self):
        d = self.dir
        upstream = lambda name: (f"upstream {name} {{ server {SERVER_IP}:9444; keepalive 64; }}\n")
        cfg = f"""worker_processes 2;
pid {d}/nginx-l7.pid;
error_log {d}/nginx-l7-error.log;
user root;
events {{ worker_connections 8192; }}
http {{
  {self.nginx_http_common()}
  {upstream("v1")}  {upstream("v2")}
  map $http_x_canary $canary_pool {{ yes v2; default ""; }}
  server {{
    listen {NODE_IP}:9445 ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate {d}/server.crt; ssl_certificate_key {d}/server.key;
    ssl_client_certificate {d}/ca.crt; ssl_verify_client on;
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_ssl_certificate {d}/client.crt; proxy_ssl_certificate_key {d}/client.key;
    proxy_ssl_trusted_certificate {d}/ca.crt; proxy_ssl_verify on; proxy_ssl_name server;
    proxy_ssl_protocols TLSv1.3; proxy_ssl_session_reuse on;
    location / {{
      if ($canary_pool) {{ proxy_pass https://$canary_pool; }}
      proxy_pass https://v1;
    }}
    location /static {{
      if ($canary_pool) {{ proxy_pass https://$canary_pool; }}
      proxy_pass https://v1;
    }}
  }}
}}
"""
        open(f"{d}/nginx-l7.conf", "w").write(cfg)
        self.spawn("nginx-l7", ["nginx", "-c", f"{d}/nginx-l7.conf", "-g", "daemon off;"], self.ns_w)
        self.wait_port(self.ns_w, NODE_IP, 9445)

    def mesh_yaml(self):
        # The namespace and the two pods of l4.py, then the waypoint and the routing.
        return super().mesh_yaml() + f"""---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: waypoint, namespace: bench}}
spec:
  gatewayClassName: istio-waypoint
  listeners: [{{name: mesh, port: 15008, protocol: HBONE}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: waypoint-0, namespace: bench, labels: {{gateway.networking.k8s.io/gateway-name: waypoint}}}}
spec: {{serviceAccountName: waypoint, nodeName: node-w}}
status: {{podIP: {NODE_IP}}}
---
apiVersion: v1
kind: Service
metadata: {{name: waypoint, namespace: bench}}
spec:
  clusterIP: {WAYPOINT_VIP}
  selector: {{gateway.networking.k8s.io/gateway-name: waypoint}}
  ports: [{{name: mesh, port: 15008}}]
---
apiVersion: v1
kind: Service
metadata: {{name: server, namespace: bench, labels: {{istio.io/use-waypoint: waypoint}}}}
spec: {{clusterIP: {SERVICE_VIP}, selector: {{app: server}}, ports: [{{name: http, port: 80, targetPort: {BACKEND_PORT}}}]}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: server, namespace: bench}}
spec:
  host: server
  subsets:
  - {{name: v1, labels: {{app: server}}}}
  - {{name: v2, labels: {{app: server}}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: server, namespace: bench}}
spec:
  hosts: [server]
  http:
  - match: [{{headers: {{x-canary: {{exact: "yes"}}}}}}]
    route: [{{destination: {{host: server, subset: v2}}}}]
  - match: [{{uri: {{prefix: /static}}}}]
    route: [{{destination: {{host: server, subset: v1}}}}]
  - route: [{{destination: {{host: server, subset: v1}}}}]
"""

    def in_node(self, url):
        r = l4.run(["ip", "netns", "exec", self.ns_w, "curl", "-s", "--max-time", "2", url], check=False)
        return r.stdout if r.returncode == 0 else None

    def start_ambit(self):
        d = self.dir
        b = self.build
        os.makedirs(f"{d}/config")
        open(f"{d}/config/mesh.yaml", "w").write(self.mesh_yaml())
        open(f"{d}/tokens.yaml", "w").write(
            "nodes:\n- {name: node-a, token: node-a-token-0123456789}\n"
            "- {name: node-b, token: node-b-token-0123456789}\n"
            "workloads:\n- {namespace: bench, serviceAccount: waypoint, token: waypoint-token-0123456789}\n")
        for n in ("a", "b"):
            open(f"{d}/{n}.token", "w").write(f"node-{n}-token-0123456789\n")
        open(f"{d}/w.token", "w").write("waypoint-token-0123456789\n")
        admin = ["--admin.port", "0", "--admin.stats_address", "127.0.0.1", "--admin.stats_port", "0",
                 "--admin.readiness_address", "127.0.0.1", "--admin.readiness_port", "0"]
        self.spawn("ambitd", [os.path.join(b, "controlplane/ambitd"), "--config_dir", f"{d}/config",
                              "--xds.address", "127.0.0.1", "--xds.plaintext_port", "0", "--xds.tls_port", "0",
                              "--ca.state_dir", f"{d}/state", "--ca.cacerts_dir", f"{d}/no-cacerts",
                              "--ca.token_file", f"{d}/tokens.yaml", "--workers", "1"] + admin, self.ns_w)
        tls_port = self.wait_log("ambitd", r"msg=xds_listening.*tls_port=(\d+)").group(1)
        xds = ["--xds.address", f"127.0.0.1:{tls_port}", "--xds.root_cert", f"{d}/state/root-cert.pem"]
        ready = {}
        for node, ns, pod in (("a", self.ns_c, "client"), ("b", self.ns_s, "server")):
            self.spawn(f"agent-{node}", [os.path.join(b, "bench/zds_agent"), "--socket", f"{d}/{node}.sock",
                                         "--pod", f"Kubernetes//Pod/bench/{pod},bench,{pod},{pod},/run/netns/{ns}"])
            self.wait_log(f"agent-{node}", r"serving")
            self.spawn(f"ztunnel-{node}", [
                os.path.join(b, "ztunnel/ztunnel"), "--node_name", f"node-{node}", "--ca.token_file",
                f"{d}/{node}.token", "--socks5.address", "", "--inpod.enabled", "true", "--inpod.socket",
                f"{d}/{node}.sock", "--workers", str(self.args.workers)] + xds + admin, self.ns_w)
            m = self.wait_log(f"ztunnel-{node}", r"msg=started .*readiness=127\.0\.0\.1:(\d+)")
            ready[f"ztunnel-{node}"] = int(m.group(1))
        self.spawn("waypoint", [
            os.path.join(b, "waypoint/waypoint"), "--gateway.name", "waypoint", "--gateway.namespace", "bench",
            "--identity.service_account", "waypoint", "--listen.address", NODE_IP, "--ca.token_file",
            f"{d}/w.token", "--access_log", "false", "--workers", str(self.args.workers)] + xds + admin, self.ns_w)
        m = self.wait_log("waypoint", r"msg=started .*readiness=127\.0\.0\.1:(\d+)")
        ready["waypoint"] = int(m.group(1))
        for name, port in ready.items():
            deadline = time.time() + 30
            while self.in_node(f"http://127.0.0.1:{port}/healthz/ready") is None:
                if time.time() > deadline:
                    raise RuntimeError(f"{name} not ready:\n" + open(f"{d}/{name}.log").read()[-3000:])
                time.sleep(0.1)
        self.wait_log("waypoint", r"msg=xds_applied type=type.googleapis.com/ambit.route.v1.HostConfig")

    # ---- measurement ------------------------------------------------------------
    def h2load(self, mode, *extra, timeout=300):
        out = self.client(["h2load", "--h1", "-H", "x-canary: no"] + list(extra) + [URLS[mode]], timeout=timeout)
        rps = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))
        m = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed", out)
        codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", out)
        mean = re.search(r"time for request:\s+\S+\s+\S+\s+(\S+)", out).group(1)
        return {"rps": rps, "done": int(m.group(2)), "succeeded": int(m.group(3)), "failed": int(m.group(4)),
                "non2xx": sum(int(codes.group(i)) for i in (2, 3, 4)), "mean_latency": mean}

    def l7_pids(self, mode):
        root = self.procs["waypoint" if mode == "ambit" else f"{mode}-l7"].pid
        pids, todo = [], [root]
        while todo:  # nginx: the master and its workers
            p = todo.pop()
            pids.append(p)
            try:
                for t in os.listdir(f"/proc/{p}/task"):
                    todo += [int(c) for c in open(f"/proc/{p}/task/{t}/children").read().split()]
            except FileNotFoundError:
                pass
        return pids

    def outer_pids(self, mode):
        names = ["ztunnel-a", "ztunnel-b"] if mode == "ambit" else ["outer-client", "outer-server"]
        return [self.procs[n].pid for n in names]

    @staticmethod
    def switches(pid):
        """Context switches of a process, all threads."""
        n = 0
        for t in os.listdir(f"/proc/{pid}/task"):
            for line in open(f"/proc/{pid}/task/{t}/status"):
                if line.startswith(("voluntary_ctxt_switches:", "nonvoluntary_ctxt_switches:")):
                    n += int(line.split()[1])
        return n

    def count_syscalls(self, groups):
        """Start `perf stat` on each group of pids; returns a function that stops them and gives the counts
        (None where perf is missing or failed)."""
        runs = []
        for i, pids in enumerate(groups):
            out = f"{self.dir}/perf-{i}.txt"
            try:
                runs.append((subprocess.Popen(["perf", "stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p",
                                               ",".join(map(str, pids)), "-o", out],
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out))
            except FileNotFoundError:
                runs.append((None, out))

        def stop():
            counts = []
            for proc, out in runs:
                if proc is None:
                    counts.append(None)
                    continue
                proc.send_signal(signal.SIGINT)
                proc.wait(timeout=10)
                m = re.search(r"^(\d+),,raw_syscalls:sys_enter", open(out).read(), re.M) if os.path.exists(out) else None
                counts.append(int(m.group(1)) if m else None)
            return counts
        return stop

    def cpu_at_rate(self, mode):
        l7, outer = self.l7_pids(mode), self.outer_pids(mode)
        before = [self.cpu_seconds(p) for p in l7 + outer]
        groups = [l7] + [[p] for p in outer]
        switched = [sum(map(self.switches, g)) for g in groups]
        stop_counting = self.count_syscalls(groups)
        t0 = time.time()
        clients = 10
        r = self.h2load(mode, "-c", str(clients), "--rps", str(self.args.rate // clients), "-D",
                        str(self.args.cpu_seconds))
        secs = time.time() - t0
        after = [self.cpu_seconds(p) for p in l7 + outer]
        syscalls = stop_counting()
        switched = [sum(map(self.switches, g)) - b for g, b in zip(groups, switched)]
        used = [a - b for a, b in zip(after, before)]
        krps = r["done"] / secs / 1000
        done = max(r["done"], 1)
        per_request = [None if n is None else n / done for n in syscalls], [n / done for n in switched]
        return {"achieved_rps": r["done"] / secs, "failed": r["failed"], "non2xx": r["non2xx"],
                "mean_latency": r["mean_latency"],
                "l7_vcpu_per_krps": sum(used[:len(l7)]) / secs / krps,
                "outer_vcpu_per_krps": [u / secs / krps for u in used[len(l7):]],
                "syscalls_per_request": per_request[0], "switches_per_request": per_request[1],
                "l7_rss_mib": sum(self.rss_mib(p) for p in l7),
                "l7_anon_mib": sum(self.rss_mib(p, "RssAnon") for p in l7)}


def machine_idle(since=None):
    """(idle, total) jiffies of all CPUs now; given an earlier reading, the idle fraction since then."""
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]
    now = (f[3] + f[4], sum(f))
    return now if since is None else (now[0] - since[0]) / max(now[1] - since[1], 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build-release", help="build directory (Release)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10, help="l7-rps seconds per run")
    ap.add_argument("--clients", type=int, default=16, help="l7-rps keep-alive connections")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of load before each measured run")
    ap.add_argument("--rate", type=int, default=1000, help="req/s of the CPU shape")
    ap.add_argument("--cpu-seconds", type=int, default=10)
    ap.add_argument("--workers", type=int, default=2, help="waypoint and ztunnel worker threads")
    ap.add_argument("--out", default="-", help="markdown results ('-' = stdout)")
    ap.add_argument("--keep-logs", action="store_true")
    ap.add_argument("--modes", default=",".join(MODES),
                    help="comma-separated subset of haproxy,nginx,ambit (for profiling one chain; the ratio "
                         "needs ambit and a peer)")
    args = ap.parse_args()
    modes = [m for m in MODES if m in args.modes.split(",")]
    if not modes or set(args.modes.split(",")) - set(MODES):
        sys.exit(f"--modes: a comma-separated subset of {','.join(MODES)}")
    if os.geteuid() != 0:
        print("bench/l7.py needs root (network namespaces, iptables)", file=sys.stderr)
        sys.exit(1 if os.environ.get("CI") == "true" else 77)
    for tool in ("h2load", "haproxy", "nginx", "openssl", "iptables", "curl"):
        if shutil.which(tool) is None:
            sys.exit(f"missing {tool}: run scripts/install-deps.sh")
    b = L7Bench(args)
    results = {m: {"rps": [], "cpu": None} for m in modes}
    started = time.time()
    try:
        b.netns()
        b.certs()
        b.start_backend()
        b.start_outer()
        if "haproxy" in modes:
            b.start_haproxy_l7()
        if "nginx" in modes:
            b.start_nginx_l7()
        if "ambit" in modes:
            b.start_ambit()
        log(f"set up in {time.time() - started:.1f} s; logs in {b.dir}")
        for rnd in range(args.rounds):
            order = modes[rnd % len(modes):] + modes[:rnd % len(modes)]
            for mode in order:
                b.capture(mode == "ambit")
                b.h2load(mode, "-c", str(args.clients), "-D", str(args.warmup))  # warm: connections, pools, caches
                idle0 = machine_idle()
                r = b.h2load(mode, "-c", str(args.clients), "-D", str(args.seconds))
                r["idle"] = machine_idle(idle0)
                results[mode]["rps"].append(r)
                if rnd == 0:
                    results[mode]["cpu"] = b.cpu_at_rate(mode)
                log(f"round {rnd + 1}/{args.rounds} {mode}: {r['rps']:.0f} req/s, {r['failed']} failed, "
                    f"{r['non2xx']} non-2xx, machine {100 * r['idle']:.0f} % idle")
            b.capture(False)
    finally:
        b.cleanup()
    report = render(args, modes, results, time.time() - started)
    if args.out == "-":
        print(report)
    else:
        open(args.out, "w").write(report)
        log(f"results in {args.out}")
    # A run with failed requests measured something else: say so in the exit status.
    bad = [m for m in modes if any(r["failed"] or r["non2xx"] for r in results[m]["rps"])
           or results[m]["cpu"]["failed"] or results[m]["cpu"]["non2xx"]]
    if bad:
        sys.exit(f"requests failed or were not 2xx in: {', '.join(bad)} (see the table; --keep-logs keeps the logs)")


def render(args, modes, results, elapsed):
    med = {m: statistics.median(r["rps"] for r in results[m]["rps"]) for m in modes}
    failed = {m: sum(r["failed"] + r["non2xx"] for r in results[m]["rps"]) for m in modes}
    peers = [med[m] for m in modes if m != "ambit"]
    cpu = {m: results[m]["cpu"] for m in modes}
    head = " | ".join(modes)
    rule = "|---" * (len(modes) + 1) + "|"
    gap = " |" * (len(modes) - 1)  # the ratio and target rows fill only the last column

    def row(label, cell):
        return f"| {label} | " + " | ".join(cell(m) for m in modes) + " |"
    lines = [f"Command: `bench/l7.py --build {args.build} --rounds {args.rounds} --seconds {args.seconds} "
             f"--clients {args.clients} --modes {','.join(modes)}` ({elapsed:.0f} s; medians of {args.rounds} "
             f"rounds, modes alternated; waypoint and ztunnel workers: {args.workers}; haproxy nbthread 2, nginx "
             f"worker_processes 2)", "",
             f"| l7-rps (HTTP/1.1 keep-alive GET, 1 KiB, {args.clients} connections, req/s) | {head} |", rule,
             row("median", lambda m: f"{med[m]:.0f}"),
             row("failed or non-2xx (all rounds)", lambda m: str(failed[m]))]
    if "ambit" in modes and peers:
        lines += [f"| ambit / better peer |{gap} {med['ambit'] / max(peers):.2f}x |", f"| target |{gap} >= 1.2x |"]
    lines += ["", f"| at {args.rate} req/s ({args.cpu_seconds} s, 10 connections) | {head} |", rule,
              row("achieved req/s", lambda m: f"{cpu[m]['achieved_rps']:.0f}"),
              row("L7 proxy vCPU per 1000 req/s", lambda m: f"{cpu[m]['l7_vcpu_per_krps']:.3f}"),
              row("outer pair vCPU per 1000 req/s (client / server side)",
                  lambda m: " / ".join(f"{v:.3f}" for v in cpu[m]["outer_vcpu_per_krps"])),
              row("L7 proxy RSS MiB (anonymous)", lambda m: f"{cpu[m]['l7_rss_mib']:.1f} ({cpu[m]['l7_anon_mib']:.1f})"),
              row("syscalls per request: L7 proxy / client side / server side",
                  lambda m: " / ".join("n/a" if n is None else f"{n:.1f}" for n in cpu[m]["syscalls_per_request"])),
              row("context switches per request: L7 proxy / client side / server side",
                  lambda m: " / ".join(f"{n:.1f}" for n in cpu[m]["switches_per_request"])),
              row("mean latency", lambda m: cpu[m]["mean_latency"])]
    if "ambit" in modes:
        lines.append(f"| target |{gap} <= 0.10 vCPU per 1000 req/s for the waypoint (Envoy waypoint: 0.25) |")
    lines.append("")
    return "\n".join(lines)

if __name__ == "__main__":
    main()
