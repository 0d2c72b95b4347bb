#!/usr/bin/env bash
# Benchmark (not a test): create-to-defined latency for a blank disk and for a copy-on-write
# clone, and delete latency, through the REST API of the release binary against the real
# libvirtd (qemu:///system). Rerun with: make build && scripts/bench-lifecycle.sh [ROUNDS]
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ROUNDS=${1:-20}
PORT=18556
bash scripts/libvirt.sh
DB=$(bash scripts/postgres.sh --fresh limen_bench)
DATA="$STATE_DIR/bench-data"
rm -rf "$DATA"; mkdir -p "$DATA"/{disks,isos,images}; chmod 755 "$DATA" "$DATA"/*
qemu-img create -q -f qcow2 "$DATA/images/bench-base.qcow2" 2G

LIMEN_CONFIG=/dev/null LIMEN_DATABASE_URL="$DB" LIMEN_DATA_DIR="$DATA" LIMEN_LISTEN="127.0.0.1:$PORT" \
  LIMEN_LIBVIRT_URI=qemu:///system LIMEN_DOMAIN_TYPE=qemu LIMEN_LOG=warn target/release/limen serve &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
wait_for 30 "limen to be ready" curl -sf "http://127.0.0.1:$PORT/readyz"

api=http://127.0.0.1:$PORT/api/v1
# time_ms METHOD PATH [BODY] → prints milliseconds, fails on an unexpected status.
time_ms() {
  local out
  out=$(curl -s -o /tmp/limen-bench-body -w '%{http_code} %{time_total}' -X "$1" "$api$2" \
    -H 'content-type: application/json' ${3:+-d "$3"})
  [[ ${out%% *} == 20[01] || ${out%% *} == 204 ]] || die "$1 $2 → $(cat /tmp/limen-bench-body)"
  awk -v t="${out#* }" 'BEGIN { printf "%.1f\n", t * 1000 }'
}
summary() { sort -n | awk -v what="$1" '{ a[NR] = $1 } END {
  printf "%-28s n=%d  p50=%.1f ms  p95=%.1f ms  max=%.1f ms\n", what, NR, a[int(NR*0.5)+1], a[int(NR*0.95)+ (NR*0.95>int(NR*0.95))], a[NR] }'; }

blank=() cow=() del=()
for i in $(seq "$ROUNDS"); do
  for kind in blank cow; do
    extra=""; [[ $kind == cow ]] && extra=',"image":"bench-base.qcow2"'
    ms=$(time_ms POST /vms "{\"name\":\"bench-$kind-$i\",\"cpu\":1,\"memory\":256,\"disk_size\":4$extra}")
    uuid=$(sed -E 's/.*"uuid":"([^"]+)".*/\1/' /tmp/limen-bench-body)
    if [[ $kind == blank ]]; then blank+=("$ms"); else cow+=("$ms"); fi
    del+=("$(time_ms DELETE "/vms/$uuid")")
  done
done
echo "rounds: $ROUNDS (qemu:///system, TCG, $(nproc) cores)"
printf '%s\n' "${blank[@]}" | summary "create, blank qcow2"
printf '%s\n' "${cow[@]}" | summary "create, copy-on-write clone"
printf '%s\n' "${del[@]}" | summary "delete (stopped VM)"
