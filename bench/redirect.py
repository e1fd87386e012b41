#!/usr/bin/python3
"""The redirect benchmark of the design's benchmarks.md: what capture costs,
eBPF vs in-pod iptables REDIRECT, same stand-in proxy, same run.

One "node" (a netns) with two "pods" (a netns + a cgroup each, veth to the
node): client 198.18.22.2 and server 198.18.22.6. Both are enrolled by the
real ambit-agent, started in turn with --capture.mode ebpf and iptables (and
not at all for "direct"); modes alternate round by round. The stand-in proxy
(bench/capture_relay, one per pod, in the pod) does what ztunnel does with a
captured connection and nothing else: accept on 15001/15006, ask
SO_ORIGINAL_DST (conntrack under iptables, Ambit's getsockopt program under
eBPF) or take the local address (sk_lookup), dial it marked 0x539, copy. So a
captured connection crosses two relays (the client's outbound, the server's
inbound), and everything but the capture is the same in both modes.
Shapes: rr (1 KiB ping-pong on one connection: p50/p99) and crr (a new
connection per 100 B exchange: connections/s).

Run as root from the repo root after a Release build:
  BUILD_TYPE=Release BUILD_DIR=build-release scripts/build.sh
  sudo bench/redirect.py --build build-release --out /tmp/redirect.md
Everything it makes (netns "ambr<pid>n/c/s", a cgroup of that name, a private
bpffs mount, processes, a temp dir) is removed on exit, also on failure.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

NET = "198.18.22."
CLIENT_IP, SERVER_IP = NET + "2", NET + "6"
LOAD_PORT = 7000
MODES = ["direct", "iptables", "ebpf"]


def log(msg):
    print(f"[redirect] {msg}", file=sys.stderr, flush=True)


def run(cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, text=True, capture_output=True, **kw)


def cgroup2_root():
    for line in open("/proc/self/mounts"):
        dev, d, kind = line.split()[:3]
        if kind == "cgroup2":
            return d
    raise RuntimeError("no cgroup2 mount")


class Bench:
    def __init__(self, args):
        self.args = args
        self.build = os.path.abspath(args.build)
        self.dir = tempfile.mkdtemp(prefix="ambit-bench-redirect-")
        self.prefix = f"ambr{os.getpid() % 100000}"
        self.ns = {k: self.prefix + k for k in ("n", "c", "s")}
        self.cgroup = os.path.join(cgroup2_root(), self.prefix)
        self.bpffs = os.path.join(self.dir, "bpffs")
        self.pin_dir = os.path.join(self.bpffs, "ambit")
        self.procs = {}
        self.made_ns = []
        self.mounted = False
        self.agent = None
        self.relays = []

    def spawn(self, name, cmd, pod=None):
        """A process; with `pod` ("c"/"s") inside that pod's cgroup and netns."""
        if pod:
            cg = os.path.join(self.cgroup, pod, "cgroup.procs")
            cmd = ["/bin/sh", "-c", f'echo $$ > {cg} && exec ip netns exec {self.ns[pod]} "$@"', "spawn"] + cmd
        out = open(os.path.join(self.dir, name + ".log"), "w")
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = p
        return p

    def wait_log(self, name, needle, count=1, timeout=30):
        path = os.path.join(self.dir, name + ".log")
        deadline = time.time() + timeout
        while time.time() < deadline:
            if open(path).read().count(needle) >= count:
                return
            if self.procs[name].poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"{name}: no '{needle}' in its log:\n" + open(path).read()[-3000:])

    def setup(self):
        os.makedirs(self.bpffs)
        run(["mount", "-t", "bpf", "bpf", self.bpffs])
        self.mounted = True
        os.mkdir(self.cgroup)
        for pod in ("c", "s"):
            os.mkdir(os.path.join(self.cgroup, pod))
        for ns in self.ns.values():
            run(["ip", "netns", "add", ns])
            self.made_ns.append(ns)
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
        run(["ip", "netns", "exec", self.ns["n"], "sysctl", "-qw", "net.ipv4.ip_forward=1"])
        for pod, host in (("c", 1), ("s", 5)):
            link = f"v{pod}"
            run(["ip", "-n", self.ns["n"], "link", "add", link, "type", "veth", "peer", "name", "eth0", "netns",
                 self.ns[pod]])
            run(["ip", "-n", self.ns["n"], "addr", "add", f"{NET}{host}/30", "dev", link])
            run(["ip", "-n", self.ns["n"], "link", "set", link, "up"])
            run(["ip", "-n", self.ns[pod], "addr", "add", f"{NET}{host + 1}/30", "dev", "eth0"])
            run(["ip", "-n", self.ns[pod], "link", "set", "eth0", "up"])
            run(["ip", "-n", self.ns[pod], "route", "add", "default", "via", f"{NET}{host}"])
            run(["ip", "netns", "exec", self.ns[pod], "sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1",
                 "net.ipv4.ip_local_port_range=10000 65000", "net.ipv4.ip_local_reserved_ports=15000-15099"])
        os.makedirs(os.path.join(self.dir, "config"))
        pods = ""
        for name, pod, ip in (("client", "c", CLIENT_IP), ("server", "s", SERVER_IP)):
            pods += (f"---\napiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: bench, annotations: "
                     f"{{ambit.dev/netns: /run/netns/{self.ns[pod]}}}}}\n"
                     f"spec: {{serviceAccountName: {name}, nodeName: node-a}}\nstatus: {{podIP: {ip}}}\n")
        open(os.path.join(self.dir, "config", "mesh.yaml"), "w").write(
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: bench, labels: {istio.io/dataplane-mode: ambient}}\n"
            + pods)
        tool = os.path.join(self.build, "bench")
        self.spawn("server", [f"{tool}/tcp_load", "server", "--port", str(LOAD_PORT)], pod="s")
        self.wait_log("server", "echo server")

    def capture(self, mode):
        """Starts the agent in `mode` (direct: none) and waits until both pods are enrolled."""
        if mode == "direct":
            return
        name = f"agent-{mode}-{time.monotonic_ns()}"
        self.spawn(name, [os.path.join(self.build, "agent/ambit-agent"), "--node_name", "node-a", "--config_dir",
                          os.path.join(self.dir, "config"), "--capture.mode", mode, "--bpf.pin_dir", self.pin_dir,
                          "--bpf.cgroup", self.cgroup, "--zds.socket", os.path.join(self.dir, "agent.sock"),
                          "--admin.port", "0", "--admin.stats_address", "127.0.0.1", "--admin.stats_port", "0",
                          "--admin.readiness_address", "127.0.0.1", "--admin.readiness_port", "0"])
        self.wait_log(name, f"msg=capture_mode mode={mode}")
        self.wait_log(name, "msg=pod_enrolled", count=2)
        self.agent = name
        # The stand-in proxies, started once capture is in place (under eBPF
        # they file their 15006 socket in the agent's map, as ztunnel does).
        self.relays = []
        for pod in ("c", "s"):
            relay = f"relay-{pod}-{time.monotonic_ns()}"
            self.spawn(relay, [os.path.join(self.build, "bench/capture_relay"), "--listen", "127.0.0.1:15001",
                               "--listen", "0.0.0.0:15006", "--bpf-pin-dir", self.pin_dir], pod=pod)
            self.wait_log(relay, "listening")
            self.relays.append(relay)

    def release(self):
        """Stops the agent and removes its capture (it leaves capture in place on exit, by design)."""
        if not self.agent:
            return
        for name in self.relays + [self.agent]:
            p = self.procs[name]
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=10)
        self.agent = None
        shutil.rmtree(self.pin_dir, ignore_errors=True)  # unpinned links detach
        for pod in ("c", "s"):
            for tool in ("iptables", "ip6tables"):
                for chain, parent in (("AMBIT_OUTBOUND", "OUTPUT"), ("AMBIT_INBOUND", "PREROUTING")):
                    ns = ["ip", "netns", "exec", self.ns[pod], tool, "-t", "nat"]
                    run(ns + ["-D", parent, "-p", "tcp", "-j", chain], check=False)
                    run(ns + ["-F", chain], check=False)
                    run(ns + ["-X", chain], check=False)

    def cleanup(self):
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for ns in self.made_ns:
            run(["ip", "netns", "del", ns], check=False)
        if self.mounted:
            run(["umount", self.bpffs], check=False)
        for d in (os.path.join(self.cgroup, "c"), os.path.join(self.cgroup, "s"), self.cgroup):
            deadline = time.time() + 5
            while os.path.exists(d):
                try:
                    os.rmdir(d)
                except OSError:
                    if time.time() > deadline:
                        log(f"could not remove {d}")
                        break
                    time.sleep(0.05)
        if self.args.keep_logs:
            log(f"logs kept in {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def tcp_load(self, *args):
        cg = os.path.join(self.cgroup, "c", "cgroup.procs")
        cmd = ["/bin/sh", "-c", f'echo $$ > {cg} && exec ip netns exec {self.ns["c"]} "$@"', "load",
               os.path.join(self.build, "bench/tcp_load")] + list(args[:1]) + \
            ["--target", f"{SERVER_IP}:{LOAD_PORT}"] + list(args[1:])
        res = run(cmd, timeout=300, check=False)
        lines = res.stdout.strip().splitlines()
        if not lines:
            raise RuntimeError(f"tcp_load {args[0]} failed: {res.stderr.strip()}")
        r = json.loads(lines[-1])
        if "error" in r or r.get("errors"):
            raise RuntimeError(f"tcp_load {args[0]}: {r}")
        return r


def median(xs):
    return statistics.median(xs) if xs else 0.0


def render(args, results, elapsed):
    p50 = {m: median([r["p50_us"] for r in results[m]["rr"]]) for m in MODES}
    p99 = {m: median([r["p99_us"] for r in results[m]["rr"]]) for m in MODES}
    crr = {m: median([r["per_second"] for r in results[m]["crr"]]) for m in MODES}
    lines = [f"Command: `bench/redirect.py --build {args.build} --rounds {args.rounds}` ({elapsed:.0f} s; medians of "
             f"{args.rounds} rounds, modes alternated)", "",
             "| shape | direct | iptables | ebpf | ebpf / iptables |",
             "|---|---|---|---|---|",
             f"| rr p50 (1 KiB ping-pong, µs) | {p50['direct']:.1f} | {p50['iptables']:.1f} | {p50['ebpf']:.1f} | "
             f"{p50['ebpf'] / p50['iptables']:.2f}x |",
             f"| rr p99 (µs) | {p99['direct']:.1f} | {p99['iptables']:.1f} | {p99['ebpf']:.1f} | "
             f"{p99['ebpf'] / p99['iptables']:.2f}x |",
             f"| crr (a connection per 100 B exchange, conns/s) | {crr['direct']:.0f} | {crr['iptables']:.0f} | "
             f"{crr['ebpf']:.0f} | {crr['ebpf'] / crr['iptables']:.2f}x |", "",
             "Target (benchmarks.md): eBPF at least as fast as iptables on RTT (ebpf / iptables p50 <= 1.00x), "
             "faster on connection rate (> 1.00x)."]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build-release", help="build directory (Release)")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--rr-iterations", type=int, default=20000)
    ap.add_argument("--crr-seconds", type=int, default=5)
    ap.add_argument("--crr-concurrency", type=int, default=4)
    ap.add_argument("--out", default="-", help="markdown results ('-' = stdout)")
    ap.add_argument("--keep-logs", action="store_true")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/redirect.py needs root (network namespaces, cgroups, BPF)", file=sys.stderr)
        sys.exit(1 if os.environ.get("CI") == "true" else 77)  # 77: ctest's skip, never in CI
    b = Bench(args)
    results = {m: {"rr": [], "crr": []} for m in MODES}
    started = time.time()
    try:
        b.setup()
        for rnd in range(args.rounds):
            order = MODES[rnd % len(MODES):] + MODES[:rnd % len(MODES)]
            for mode in order:
                b.capture(mode)
                results[mode]["rr"].append(b.tcp_load("rr", "--size", "1024", "--iterations",
                                                      str(args.rr_iterations)))
                results[mode]["crr"].append(b.tcp_load("crr", "--size", "100", "--seconds", str(args.crr_seconds),
                                                       "--concurrency", str(args.crr_concurrency)))
                b.release()
                log(f"round {rnd + 1}/{args.rounds} {mode}: rr p50 {results[mode]['rr'][-1]['p50_us']:.1f} µs, "
                    f"crr {results[mode]['crr'][-1]['per_second']:.0f}/s")
    finally:
        try:
            b.release()
        finally:
            b.cleanup()
    report = render(args, results, time.time() - started)
    if args.out == "-":
        print(report)
    else:
        open(args.out, "w").write(report)
        log(f"results in {args.out}")


if __name__ == "__main__":
    main()
