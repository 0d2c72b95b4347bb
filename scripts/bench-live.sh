#!/usr/bin/env bash
# Benchmarks (not tests) of live state, with the release binary (make build first):
#   1. event propagation from libvirt's event to the SSE event and to the card in Chromium,
#      stop and start done with virsh on the real libvirtd (TRIALS each, default 50);
#   2. the server's memory with 1,000 open event streams, and GET /api/v1/vms with 1,000 VMs and
#      64 concurrent connections measured by wrk, beside /healthz as the ceiling (libvirt's test
#      driver: no guests needed; server and wrk on cores of their own);
#   3. one reconcile over 10,000 domains (cargo bench, test driver).
# Rerun with: make build && scripts/bench-live.sh [TRIALS]
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
TRIALS=${1:-50}
bash scripts/libvirt.sh
[[ -x target/release/limen ]] || die "build first: make build"

# serve NAME PORT LIBVIRT_URI [PREFIX…] → starts a release server on a fresh database (run
# under PREFIX, e.g. taskset); sets $server.
serve() {
  local db data="$STATE_DIR/bench-$1"
  db=$(bash scripts/postgres.sh --fresh "limen_bench_$1")
  rm -rf "$data"; mkdir -p "$data"; chmod 755 "$data"
  LIMEN_CONFIG=/dev/null LIMEN_DATABASE_URL="$db" LIMEN_DATA_DIR="$data" LIMEN_LISTEN="127.0.0.1:$2" \
    LIMEN_LIBVIRT_URI="$3" LIMEN_DOMAIN_TYPE=qemu LIMEN_LOG=warn "${@:4}" target/release/limen serve &
  server=$!
  wait_for 30 "limen to be ready" curl -sf "http://127.0.0.1:$2/readyz"
  # The benchmarks log in as an admin of this fresh database.
  printf '%s\n' "$LIMEN_BENCH_PASSWORD" | LIMEN_CONFIG=/dev/null LIMEN_DATABASE_URL="$db" \
    LIMEN_LIBVIRT_URI="$3" LIMEN_DATA_DIR="$data" LIMEN_LOG=warn \
    target/release/limen user add "$LIMEN_BENCH_USER" --admin --password-stdin >/dev/null
}
export LIMEN_BENCH_USER=bench LIMEN_BENCH_PASSWORD="bench-$RANDOM-$RANDOM-$RANDOM"
stop() { kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; }
trap stop EXIT

log "1/3 event propagation ($TRIALS trials each)"
serve latency 18557 qemu:///system
(cd end2end && node bench/event-latency.mjs http://127.0.0.1:18557 "$TRIALS")
stop

log "2/3 many event streams, and the list under load"
command -v wrk >/dev/null || { log "apt: installing wrk (the load generator)"; apt-get install -y -qq wrk >/dev/null; }
# The load generator gets a core of its own, so it does not queue the server behind itself.
server_cpu=() client_cpu=()
if (( $(nproc) >= 2 )); then server_cpu=(taskset -c 0); client_cpu=(taskset -c 1); fi
serve load 18558 test:///default "${server_cpu[@]}"
(cd end2end && "${client_cpu[@]}" node bench/load.mjs http://127.0.0.1:18558 "$server" 1000 64 1000)
token=$(curl -sf -H 'content-type: application/json' \
  -d "{\"username\":\"$LIMEN_BENCH_USER\",\"password\":\"$LIMEN_BENCH_PASSWORD\"}" \
  http://127.0.0.1:18558/api/v1/auth/login | sed -E 's/.*"token":"([^"]+)".*/\1/')
wrk_run() {  # wrk_run LABEL PATH [HEADER…]: 64 connections, 10 s, the latency distribution
  local label=$1 path=$2; shift 2
  local args=(-t 1 -c 64 -d 10s --latency)
  for header in "$@"; do args+=(-H "$header"); done
  "${client_cpu[@]}" wrk "${args[@]}" "http://127.0.0.1:18558$path" > "$STATE_DIR/wrk.out"
  printf '%-44s %s req/s, p50 %s, p99 %s\n' "$label" \
    "$(awk '/Requests\/sec/ {print $2}' "$STATE_DIR/wrk.out")" \
    "$(awk '$1 == "50%" {print $2}' "$STATE_DIR/wrk.out")" \
    "$(awk '$1 == "99%" {print $2}' "$STATE_DIR/wrk.out")"
}
wrk_run "GET /healthz (the ceiling)" /healthz
wrk_run "GET /api/v1/vms, 1,000 VMs, gzip" /api/v1/vms "Authorization: Bearer $token" "Accept-Encoding: gzip"
wrk_run "GET /api/v1/vms, 1,000 VMs, no gzip" /api/v1/vms "Authorization: Bearer $token"
stop

log "3/3 reconcile of 10,000 domains"
LIMEN_BENCH_DATABASE_URL=$(bash scripts/postgres.sh --fresh limen_bench_reconcile) \
  cargo bench -q -p server --bench reconcile -- 10000
