#!/usr/bin/env bash
# Benchmark (not a test): two real libvirt hosts (qemu:///system as the local host and the second
# libvirtd of scripts/second-host.sh) with 1,000 VMs spread over them, 500 defined on each:
#   - GET /api/v1/vms measured by wrk beside /healthz as the ceiling (server and wrk on cores of
#     their own);
#   - event latency on the local host: virsh start / destroy → the SSE event and the dashboard's
#     card (end2end/bench/event-latency.mjs);
# both again with the second host unreachable (its libvirtd stopped): what one unreachable host
# costs the others. Rerun with: make build && scripts/bench-hosts.sh [TRIALS]
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
PORT=18562
TRIALS=${1:-20}
export LIMEN_BENCH_USER=bench LIMEN_BENCH_PASSWORD="bench-$RANDOM-$RANDOM-$RANDOM"
LIMEN=${LIMEN:-target/release/limen}
[[ -x $LIMEN ]] || die "$LIMEN is missing: make build first"
command -v wrk >/dev/null || { log "apt: installing wrk (the load generator)"; apt-get install -y -qq wrk >/dev/null; }
bash scripts/libvirt.sh
SECOND=$(bash scripts/second-host.sh start)
DB=$(bash scripts/postgres.sh --fresh limen_bench_hosts)
DATA="$STATE_DIR/bench-hosts"
rm -rf "$DATA"; mkdir -p "$DATA"/{disks,isos,images}; chmod 755 "$DATA" "$DATA"/*
server_cpu=() client_cpu=()
if (( $(nproc) >= 2 )); then server_cpu=(taskset -c 0); client_cpu=(taskset -c 1); fi
env=(LIMEN_CONFIG=/dev/null LIMEN_DATABASE_URL="$DB" LIMEN_DATA_DIR="$DATA"
  LIMEN_LISTEN="127.0.0.1:$PORT" LIMEN_LIBVIRT_URI=qemu:///system LIMEN_DOMAIN_TYPE=qemu LIMEN_LOG=warn)
printf '%s\n' "$LIMEN_BENCH_PASSWORD" | env "${env[@]}" "$LIMEN" user add bench --admin --password-stdin >/dev/null
env "${env[@]}" "${server_cpu[@]}" "$LIMEN" serve &
server=$!
cleanup() {
  set +e   # every step, whatever the one before said
  kill "$server" 2>/dev/null; wait "$server" 2>/dev/null
  bash scripts/second-host.sh start >/dev/null
  for uri in qemu:///system "$SECOND"; do
    for d in $(virsh -c "$uri" list --all --name | grep '^bench-'); do
      virsh -c "$uri" destroy "$d" >/dev/null 2>&1; virsh -c "$uri" undefine "$d" >/dev/null
    done
  done
  rm -rf "$DATA"
  true
}
trap cleanup EXIT
wait_for 30 "limen to be ready" curl -sf "http://127.0.0.1:$PORT/readyz"
api=http://127.0.0.1:$PORT/api/v1
token=$(curl -sf -H 'content-type: application/json' -d "{\"username\":\"bench\",\"password\":\"$LIMEN_BENCH_PASSWORD\"}" \
  "$api/auth/login" | sed -E 's/.*"token":"([^"]+)".*/\1/')
auth=(-H "Authorization: Bearer $token" -H 'content-type: application/json')
curl -sf "${auth[@]}" -d "{\"name\":\"second\",\"uri\":\"$SECOND\"}" "$api/hosts" >/dev/null || die "adding the second host failed"
log "creating 1,000 VMs, 500 on each host"
for i in $(seq 500); do
  for host in local second; do
    curl -sf -o /dev/null "${auth[@]}" \
      -d "{\"name\":\"bench-h-$host-$i\",\"cpu\":1,\"memory\":64,\"disk_size\":1,\"host\":\"$host\"}" "$api/vms" \
      || die "creating a VM on $host failed"
  done
done

wrk_run() {  # wrk_run LABEL PATH [HEADER…]: 64 connections, 10 s
  local label=$1 path=$2; shift 2
  local args=(-t 1 -c 64 -d 10s --latency)
  for header in "$@"; do args+=(-H "$header"); done
  "${client_cpu[@]}" wrk "${args[@]}" "http://127.0.0.1:$PORT$path" > "$DATA/wrk.out"
  printf '  %-46s %s req/s, p50 %s, p99 %s\n' "$label" \
    "$(awk '/Requests\/sec/ {print $2}' "$DATA/wrk.out")" \
    "$(awk '$1 == "50%" {print $2}' "$DATA/wrk.out")" \
    "$(awk '$1 == "99%" {print $2}' "$DATA/wrk.out")"
}
measure() {
  wrk_run "GET /healthz (the ceiling)" /healthz
  wrk_run "GET /api/v1/vms, 1,000 VMs, gzip" /api/v1/vms "Authorization: Bearer $token" "Accept-Encoding: gzip"
  wrk_run "GET /api/v1/vms?host=local, 500 VMs" "/api/v1/vms?host=local" "Authorization: Bearer $token"
  (cd end2end && LIMEN_BENCH_HOST=local node bench/event-latency.mjs "http://127.0.0.1:$PORT" "$TRIALS")
}
echo "two hosts, both reachable:"
measure
bash scripts/second-host.sh stop >/dev/null
wait_for 30 "Limen to see the second host unreachable" \
  bash -c "curl -sf -H 'Authorization: Bearer $token' '$api/hosts' | grep -q '\"state\":\"unreachable\"'"
echo "the second host unreachable (its 500 VMs unknown):"
measure
unknown=$(curl -sf -H "Authorization: Bearer $token" "$api/vms" | grep -o '"status":"unknown"' | wc -l)
echo "  VMs shown unknown: $unknown"
bash scripts/second-host.sh start >/dev/null
