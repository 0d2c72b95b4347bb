#!/usr/bin/env bash
# Benchmark (not a test): live migration of a 128 MiB TCG guest between the two libvirt hosts
# of this machine (qemu:///system and scripts/second-host.sh), through Limen's API and with
# virsh directly (the same flags Limen uses: live, persist on the destination, undefine the
# source, over the client's connections to both hosts). For each: the wall time of the call
# and libvirt's own job time and downtime (`virsh domjobinfo --completed` on the destination).
# Rerun with: make build && scripts/bench-migrate.sh [ROUNDS]
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
ROUNDS=${1:-10}
PORT=18561
LIMEN=${LIMEN:-target/release/limen}
[[ -x $LIMEN ]] || die "$LIMEN is missing: make build first"
bash scripts/libvirt.sh
SECOND=$(bash scripts/second-host.sh start)
LOCAL=qemu:///system
GUEST="$STATE_DIR/test-guest/limen-guest.qcow2"
[[ -f $GUEST ]] || bash scripts/test-guest.sh "$STATE_DIR/test-guest"
DB=$(bash scripts/postgres.sh --fresh limen_bench)
DATA="$STATE_DIR/bench-data"
rm -rf "$DATA"; mkdir -p "$DATA"/{disks,isos,images}; chmod 755 "$DATA" "$DATA"/*
cp "$GUEST" "$DATA/images/"

env=(LIMEN_CONFIG=/dev/null LIMEN_DATABASE_URL="$DB" LIMEN_DATA_DIR="$DATA"
  LIMEN_LISTEN="127.0.0.1:$PORT" LIMEN_LIBVIRT_URI=$LOCAL LIMEN_DOMAIN_TYPE=qemu LIMEN_LOG=warn)
PASSWORD=bench-password-$$
printf '%s\n' "$PASSWORD" | env "${env[@]}" "$LIMEN" user add bench --admin --password-stdin >/dev/null
env "${env[@]}" "$LIMEN" serve &
server=$!
NAME=bench-migrate-$$
trap 'set +e; kill $server 2>/dev/null; wait $server 2>/dev/null
  for uri in "$LOCAL" "$SECOND"; do virsh -c "$uri" destroy "$NAME" >/dev/null 2>&1; virsh -c "$uri" undefine "$NAME" >/dev/null 2>&1; done; true' EXIT
wait_for 30 "limen to be ready" curl -sf "http://127.0.0.1:$PORT/readyz"
api=http://127.0.0.1:$PORT/api/v1
token=$(curl -sf -H 'content-type: application/json' -d "{\"username\":\"bench\",\"password\":\"$PASSWORD\"}" \
  "$api/auth/login" | sed -E 's/.*"token":"([^"]+)".*/\1/')
auth=(-H "Authorization: Bearer $token" -H 'content-type: application/json')
curl -sf "${auth[@]}" -d "{\"name\":\"second\",\"uri\":\"$SECOND\"}" "$api/hosts" >/dev/null \
  || die "adding the second host failed"
id=$(curl -sf "${auth[@]}" -d "{\"name\":\"$NAME\",\"cpu\":1,\"memory\":128,\"disk_size\":1,
  \"image\":\"limen-guest.qcow2\",\"boot_order\":\"hd\",\"host\":\"local\",\"start\":true}" \
  "$api/vms" | sed -E 's/.*"uuid":"([^"]+)".*/\1/')
[[ $id =~ ^[0-9a-f-]{36}$ ]] || die "creating the guest failed"

# job URI: "elapsed downtime" of the last completed job of the guest on URI, in ms.
job() {
  virsh -c "$1" domjobinfo --completed "$NAME" | awk -F: '
    /^Time elapsed:/ { gsub(/[^0-9]/, "", $2); elapsed = $2 }
    /^Total downtime:/ { gsub(/[^0-9]/, "", $2); down = $2 }
    END { print elapsed + 0, down + 0 }'
}
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
results=()   # "way wall job downtime"
api_move() {   # api_move HOST DEST_URI
  local start end code
  start=$(now_ms)
  code=$(curl -s -o /tmp/limen-bench-body -w '%{http_code}' "${auth[@]}" -d "{\"host\":\"$1\"}" "$api/vms/$id/migrate")
  end=$(now_ms)
  [[ $code == 200 ]] || die "API migration to $1: $(cat /tmp/limen-bench-body)"
  results+=("api $((end - start)) $(job "$2")")
}
virsh_move() {   # virsh_move FROM_URI DEST_URI
  local start end
  start=$(now_ms)
  virsh -c "$1" migrate --live --persistent --undefinesource --unsafe "$NAME" "$2" >/dev/null
  end=$(now_ms)
  results+=("virsh $((end - start)) $(job "$2")")
}
for _ in $(seq "$ROUNDS"); do
  api_move second "$SECOND"; api_move local "$LOCAL"
  virsh_move "$LOCAL" "$SECOND"; virsh_move "$SECOND" "$LOCAL"
  # Limen follows the virsh moves from libvirt's events: wait until it says local again.
  wait_for 30 "Limen to follow the guest home" \
    bash -c "curl -sf -H 'Authorization: Bearer $token' '$api/vms/$id' | grep -q '\"host\":\"local\"'"
done

summary() { sort -n | awk -v what="$1" '{ a[NR] = $1 } END {
  printf "  %-34s n=%d  p50=%d ms  min=%d ms  max=%d ms\n", what, NR, a[int(NR*0.5)+1], a[1], a[NR] }'; }
echo "live migration of a 128 MiB TCG guest, both ways, $ROUNDS rounds ($(nproc) cores)"
for way in virsh api; do
  echo "$way:"
  printf '%s\n' "${results[@]}" | awk -v w=$way '$1 == w { print $2 }' | summary "wall (the call)"
  printf '%s\n' "${results[@]}" | awk -v w=$way '$1 == w { print $3 }' | summary "libvirt job"
  printf '%s\n' "${results[@]}" | awk -v w=$way '$1 == w { print $4 }' | summary "downtime"
  printf '%s\n' "${results[@]}" | awk -v w=$way '$1 == w { print $2 - $3 }' | summary "wall minus job (overhead)"
done
