#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, brings up the
# lab (a two-node mesh made of network namespaces, deploy/lab/mesh/) and shows,
# with checks, that traffic between pods is captured and carried over mutual
# TLS, that an AuthorizationPolicy applied live denies a caller, and that a
# waypoint added live splits backend's traffic 90/10 (and passes TCP through).
# The lab stays up for exploring (AMBIT_DEMO_KEEP=0 removes it at the end).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "The lab needs root (network namespaces, cgroups, eBPF): sudo $0" >&2
  exit 1
fi

bash scripts/build.sh

CTL=build/tools/ambitctl
LAB=(--name demo)
KEEP="${AMBIT_DEMO_KEEP:-1}"
ok=0
finish() {
  if [ "$ok" -ne 1 ]; then
    echo
    echo "The demo failed; the lab is left as it was. Logs: $CTL lab logs ${LAB[*]} ztunnel --node node1"
    echo "(or agent, ambitd, a pod); remove it with: $CTL lab down ${LAB[*]}"
  elif [ "$KEEP" = "0" ]; then
    "$CTL" lab down "${LAB[@]}"
  fi
}
trap finish EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
check() { printf '   \033[32mok\033[0m  %s\n' "$*"; }
fail() { printf '   \033[31mFAILED\033[0m  %s\n' "$*"; exit 1; }

step "ambitctl lab up: 2 nodes, ambitd, an ambit-agent (eBPF) and a ztunnel per node, the demo pods"
"$CTL" lab down "${LAB[@]}" >/dev/null
run "$CTL" lab up "${LAB[@]}" --nodes 2

step "client -> frontend (same node) -> backend (the other node)"
out="$(run "$CTL" lab exec "${LAB[@]}" demo/client-0 -- curl -sS --max-time 5 http://frontend:8080/)" || fail "request failed: $out"
echo "$out"
grep -q "pod=frontend-0" <<<"$out" && grep -q -- "-> pod=backend-v" <<<"$out" || fail "unexpected answer"
check "the request went client -> frontend -> backend"

step "Both hops were mutual TLS: each ztunnel reports them (istio_tcp_connections_opened_total)"
summary() {  # node reporter: "source -> destination: policy" per series
  "$CTL" lab metrics "${LAB[@]}" ztunnel --node "$1" --filter "reporter=\"$2\"" |
    grep '^istio_tcp_connections_opened_total' |
    sed -E 's/.*source_workload="([^"]*)".*destination_workload="([^"]*)".*connection_security_policy="([^"]*)".*/\1 -> \2: \3/' |
    sort -u || true
}
for node in node1 node2; do
  echo "$node, as destination:"
  summary "$node" destination | sed 's/^/    /'
done
summary node1 destination | grep -qx "client -> frontend: mutual_tls" || fail "client -> frontend was not mutual TLS on node1"
summary node2 destination | grep -qx "frontend -> backend: mutual_tls" || fail "frontend -> backend was not mutual TLS on node2"
check "client -> frontend (node1) and frontend -> backend (node2): connection_security_policy=mutual_tls"

step "What node2's ztunnel knows (ambitctl ztunnel-config)"
run "$CTL" ztunnel-config workloads "${LAB[@]}" --node node2
run "$CTL" ztunnel-config certificates "${LAB[@]}" --node node2

step "An AuthorizationPolicy, applied live: client may no longer call backend directly"
cat deploy/lab/extras/deny-client.yaml
run "$CTL" lab apply "${LAB[@]}" deploy/lab/extras/deny-client.yaml
denials() {  # connections node2's ztunnel refused by policy (response_flags="DENY")
  "$CTL" lab metrics "${LAB[@]}" ztunnel --node node2 --filter 'response_flags="DENY"' |
    awk '/^istio_tcp_connections_opened_total/ && /reporter="destination"/ { n += $NF } END { print n + 0 }'
}
before="$(denials)"
if out="$("$CTL" lab exec "${LAB[@]}" demo/client-0 -- curl -sS --max-time 5 http://backend:8080/ 2>&1)"; then
  fail "client reached backend despite the DENY policy: $out"
fi
echo "$ curl http://backend:8080/ from client-0 -> $out"
after="$(denials)"
[ "$after" -gt "$before" ] || fail "the request failed, but node2's ztunnel did not count a DENY (before $before, after $after)"
echo "   node2's ztunnel counted it: istio_tcp_connections_opened_total{reporter=\"destination\",response_flags=\"DENY\",...} $before -> $after"
check "client -> backend is refused by policy (ztunnel on node2 checks the caller's mTLS identity)"
"$CTL" lab exec "${LAB[@]}" demo/client-0 -- curl -sS --max-time 5 http://frontend:8080/ >/dev/null ||
  fail "client -> frontend -> backend should still work"
check "client -> frontend -> backend still works (frontend's identity is allowed)"
run "$CTL" lab delete "${LAB[@]}" deny-client.yaml
"$CTL" lab exec "${LAB[@]}" demo/client-0 -- curl -sS --max-time 5 http://backend:8080/ >/dev/null ||
  fail "client -> backend should work again once the policy is deleted"
check "policy deleted: client -> backend works again"

step "A waypoint for namespace demo (L7): a Gateway of class istio-waypoint, as istioctl waypoint apply makes it"
cat deploy/lab/extras/waypoint.yaml | grep -v '^#'
run "$CTL" lab apply "${LAB[@]}" deploy/lab/extras/waypoint.yaml
"$CTL" lab status "${LAB[@]}" | grep -E '^POD|waypoint' || true
"$CTL" lab status "${LAB[@]}" | grep -q 'demo/waypoint-0 .*waypoint (ready)' || fail "the waypoint pod is not ready"
check "the lab runs the waypoint pod demo/waypoint-0 and Service demo/waypoint (never captured; it speaks HBONE itself)"

step "Send namespace demo's services through it, then split backend 90/10 between v1 and v2"
run "$CTL" lab label "${LAB[@]}" namespace demo istio.io/use-waypoint=waypoint
grep -v '^#' deploy/lab/extras/backend-canary.yaml
run "$CTL" lab apply "${LAB[@]}" deploy/lab/extras/backend-canary.yaml
out="$(run "$CTL" lab exec "${LAB[@]}" demo/client-0 -- ambit-demo-app load http://backend:8080/ --count 1000 --interval 0ms --reuse)" ||
  fail "requests through the waypoint failed: $out"
echo "$out"
v2="$(sed -nE 's/.*versions=v1:[0-9]+,v2:([0-9]+).*/\1/p' <<<"$out")"
[ -n "$v2" ] && [ "$v2" -ge 70 ] && [ "$v2" -le 130 ] || fail "v2 got ${v2:-none} of 1000 requests; 10 % +- 3 % expected"
check "1000 requests: v2 answered $v2 (10 % +- 3 %)"
out="$("$CTL" lab exec "${LAB[@]}" demo/client-0 -- curl -sS --max-time 5 -H 'x-canary: always' http://backend:8080/)" ||
  fail "request with x-canary failed: $out"
echo "$ curl -H 'x-canary: always' http://backend:8080/ -> $out"
grep -q "version=v2" <<<"$out" || fail "x-canary: always did not reach v2"
check "a request with header x-canary: always goes to v2"
out="$(run "$CTL" lab exec "${LAB[@]}" demo/client-0 -- ambit-demo-app echo backend:9090 --message "raw TCP")" ||
  fail "TCP through the waypoint failed: $out"
echo "$out"
check "backend's TCP port (tcp-echo) is passed through the waypoint as TCP (no HTTP parsing; L4 policy still applies)"
echo "The waypoint's request metrics (istio_requests_total, reporter=waypoint), by version:"
"$CTL" lab metrics "${LAB[@]}" waypoint --filter istio_requests_total |
  grep 'source_workload="client"' | grep 'destination_service_name="backend"' |
  sed -E 's/.*destination_version="([^"]*)".*response_code="([^"]*)".* ([0-9.e+]+)$/    backend \1: \3 requests, code \2/' || true
check "the waypoint reports Istio's request metrics: $CTL lab metrics ${LAB[*]} waypoint"

ok=1
step "Done: every check passed"
if [ "$KEEP" = "0" ]; then
  echo "The lab is being removed (AMBIT_DEMO_KEEP=0)."
else
  cat <<TXT
The lab is still up. Explore it:
  $CTL lab status ${LAB[*]}
  $CTL lab exec ${LAB[*]} demo/client-0 -- curl -s http://backend:8080/
  $CTL lab exec ${LAB[*]} legacy/legacy-client-0 -- curl -s http://<legacy-server-0's IP>:8080/   (not enrolled: plain)
  $CTL ztunnel-config connections ${LAB[*]} --node node1
  $CTL lab logs ${LAB[*]} demo/waypoint-0           (one access line per request)
  $CTL lab logs ${LAB[*]} ztunnel --node node2
  $CTL lab apply ${LAB[*]} FILE.yaml      (your own policies, pods, services)
Tear it down:
  $CTL lab down ${LAB[*]}
More: docs/lab.md
TXT
fi
