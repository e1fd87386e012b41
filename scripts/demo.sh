#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, and shows what
# Ambit runs today. (The lab issue turns this into the multi-node mesh demo.)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/build.sh

BIN=build/ztunnel/ztunnel
WORK="$(mktemp -d /tmp/ambit-demo.XXXXXX)"
ZT_PID=""
AMBITD_PID=""
cleanup() {
  if [ -n "$ZT_PID" ] && kill -0 "$ZT_PID" 2>/dev/null; then kill -TERM "$ZT_PID"; wait "$ZT_PID" || true; fi
  if [ -n "$AMBITD_PID" ] && kill -0 "$AMBITD_PID" 2>/dev/null; then kill -TERM "$AMBITD_PID"; wait "$AMBITD_PID" || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

# wait_for_admin NAME PID LOG: prints the admin address once the process logs it
# (bounded: 5 s), or shows the log and fails.
wait_for_admin() {
  local name="$1" pid="$2" log="$3" addr=""
  for _ in $(seq 1 100); do
    addr="$(grep -o 'admin=[0-9.:]*' "$log" 2>/dev/null | head -1 | cut -d= -f2)" || true
    [ -n "$addr" ] && { echo "$addr"; return 0; }
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "$name did not start" >&2
  cat "$log" >&2
  return 1
}

# Ports 0 let the kernel pick free ones, so the demo never collides with a running mesh.
cat > "$WORK/ztunnel.yaml" <<YAML
drain_deadline: 3s
admin:
  port: 0
  stats_address: 127.0.0.1
  stats_port: 0
  readiness_address: 127.0.0.1
  readiness_port: 0
YAML

step "ztunnel's effective config (each value says where it came from)"
"$BIN" -c "$WORK/ztunnel.yaml" --print-config

step "A config with mistakes is rejected with file, line and field"
printf 'workers: two\nadmin:\n  prot: 15000\n' > "$WORK/bad.yaml"
"$BIN" -c "$WORK/bad.yaml" || true

step "Starting ztunnel (runtime shell: workers, admin, metrics, drain)"
"$BIN" -c "$WORK/ztunnel.yaml" > "$WORK/ztunnel.log" 2>&1 &
ZT_PID=$!
ADMIN="$(wait_for_admin ztunnel "$ZT_PID" "$WORK/ztunnel.log")"
READY="$(grep -o 'readiness=[0-9.:]*' "$WORK/ztunnel.log" | cut -d= -f2)"
STATS="$(grep -o 'stats=[0-9.:]*' "$WORK/ztunnel.log" | cut -d= -f2)"
cat "$WORK/ztunnel.log"

step "GET http://$READY/healthz/ready"
curl -s "http://$READY/healthz/ready"
step "GET http://$STATS/stats/prometheus"
curl -s "http://$STATS/stats/prometheus"
step "GET http://$ADMIN/config_dump"
curl -s "http://$ADMIN/config_dump"
step "POST http://$ADMIN/logging?level=debug (log levels change at run time)"
curl -s -X POST "http://$ADMIN/logging?level=debug"

step "POST http://$ADMIN/quitquitquit: ztunnel drains and exits"
curl -s -X POST "http://$ADMIN/quitquitquit"
wait "$ZT_PID" || true
ZT_PID=""
tail -n 3 "$WORK/ztunnel.log"

AMBITD=build/controlplane/ambitd
mkdir -p "$WORK/config"
cp deploy/demo/demo.yaml "$WORK/config/"

step "ambitd validate: the demo's Istio/Kubernetes YAML"
"$AMBITD" validate "$WORK/config"

step "A policy with a typo is rejected with file, line, column and field"
mkdir -p "$WORK/bad"
cat > "$WORK/bad/policy.yaml" <<'YAML'
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: oops, namespace: demo}
spec:
  action: DENY
  rules:
  - from: [{source: {principal: [cluster.local/ns/demo/sa/client]}}]
YAML
"$AMBITD" validate "$WORK/bad" || true

step "Starting ambitd (xDS on a free port, CA root generated in a temp dir)"
"$AMBITD" --config_dir "$WORK/config" --ca.state_dir "$WORK/ca" --ca.cacerts_dir "$WORK/no-cacerts" \
  --xds.address 127.0.0.1 --xds.plaintext_port 0 --xds.tls_port 0 \
  --admin.port 0 --admin.stats_address 127.0.0.1 --admin.stats_port 0 \
  --admin.readiness_address 127.0.0.1 --admin.readiness_port 0 > "$WORK/ambitd.log" 2>&1 &
AMBITD_PID=$!
CP_ADMIN="$(wait_for_admin ambitd "$AMBITD_PID" "$WORK/ambitd.log")"
grep -E 'msg=(ca_ready|xds_listening|config_applied)' "$WORK/ambitd.log" || true

step "What ambitd serves over xDS (resource name -> version)"
curl -s "http://$CP_ADMIN/config_dump" | python3 -c 'import json,sys; d=json.load(sys.stdin)["xds"]; print(json.dumps(d["resources"], indent=2))'

step "Stopping ambitd"
kill -TERM "$AMBITD_PID"; wait "$AMBITD_PID" || true

cat <<'TXT'

Done. What exists today: the runtime every Ambit component stands on, and the
control plane (YAML -> xDS + CA). The node proxy, eBPF capture and the lab follow.
Next: run the tests with ./scripts/test.sh; read docs/ARCHITECTURE.md.
TXT
