#!/usr/bin/env bash
# Benchmark (not a test) of ISO uploads (issue 11): a SIZE-MiB ISO (default 100) POSTed with curl
# (-T: streamed from disk on the client too) to the release binary, the server's resident memory
# sampled every 20 ms from /proc while it streams, beside its memory before; then the same
# upload cut off halfway, and the library checked to hold nothing of it. The server runs on
# core 0, curl on core 1.
# Rerun with: make build && scripts/bench-upload.sh [SIZE_MIB]
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
SIZE=${1:-100}
[[ -x target/release/limen ]] || die "build first: make build"
command -v curl >/dev/null || die "curl is needed"
prepare_state_dir
DIR="$STATE_DIR/bench-upload"
DATA="$DIR/data"
rm -rf "$DIR"; mkdir -p "$DATA"
server_cpu=() client_cpu=()
if (( $(nproc) >= 2 )); then server_cpu=(taskset -c 0); client_cpu=(taskset -c 1); fi

# The ISO: SIZE MiB of random bytes with an ISO 9660 volume descriptor's signature.
ISO="$DIR/bench.iso"
head -c "$((SIZE << 20))" /dev/urandom > "$ISO"
printf '\001CD001' | dd of="$ISO" bs=1 seek=32768 conv=notrunc status=none

DB=$(bash scripts/postgres.sh --fresh limen_bench_upload)
PORT=18559
export LIMEN_CONFIG=/dev/null LIMEN_DATABASE_URL="$DB" LIMEN_DATA_DIR="$DATA" \
  LIMEN_LISTEN="127.0.0.1:$PORT" LIMEN_LIBVIRT_URI=test:///default LIMEN_LOG=warn
"${server_cpu[@]}" target/release/limen serve &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
wait_for 30 "limen to be ready" curl -sf "http://127.0.0.1:$PORT/readyz"
PASSWORD="bench-$RANDOM-$RANDOM"
printf '%s\n' "$PASSWORD" | target/release/limen user add bench --admin --password-stdin >/dev/null
token=$(curl -sf -H 'content-type: application/json' -d "{\"username\":\"bench\",\"password\":\"$PASSWORD\"}" \
  "http://127.0.0.1:$PORT/api/v1/auth/login" | sed -E 's/.*"token":"([^"]+)".*/\1/')

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$server/status"; }
# sample_rss FILE: the server's RSS (KiB), every 20 ms, into FILE until killed.
sample_rss() { while :; do rss_kib >> "$1"; sleep 0.02; done; }

before=$(rss_kib)
sample_rss "$DIR/rss.txt" & sampler=$!
start=$(date +%s.%N)
status=$("${client_cpu[@]}" curl -s -o "$DIR/answer.json" -w '%{http_code}' \
  -H "Authorization: Bearer $token" -H 'content-type: application/octet-stream' \
  -X POST -T "$ISO" "http://127.0.0.1:$PORT/api/v1/isos?name=bench.iso")
end=$(date +%s.%N)
kill "$sampler"; wait "$sampler" 2>/dev/null || true
[[ "$status" == 201 ]] || die "the upload answered $status: $(cat "$DIR/answer.json")"
cmp -s "$ISO" "$DATA/isos/bench.iso" || die "the stored ISO differs from the one sent"
peak=$(sort -n "$DIR/rss.txt" | tail -n 1)
after=$(rss_kib)
samples=$(wc -l < "$DIR/rss.txt")
seconds=$(echo "$end - $start" | bc -l)
printf '%s MiB upload: %.2f s (%.0f MiB/s); server RSS before %d KiB, peak during %d KiB (+%d KiB, %d samples), after %d KiB\n' \
  "$SIZE" "$seconds" "$(echo "$SIZE / $seconds" | bc -l)" "$before" "$peak" "$((peak - before))" "$samples" "$after"

# Cut off halfway: curl gives up after half the bytes (a rate limit and a time limit).
half_time=3
rate=$(( (SIZE << 20) / 2 / half_time ))
"${client_cpu[@]}" curl -s -o /dev/null --limit-rate "$rate" --max-time "$half_time" \
  -H "Authorization: Bearer $token" -H 'content-type: application/octet-stream' \
  -X POST -T "$ISO" "http://127.0.0.1:$PORT/api/v1/isos?name=cut.iso" || true
wait_for 10 "the cut-off upload's partial file to go" \
  bash -c "[[ -z \"\$(ls -A '$DATA/isos' | grep -v '^bench.iso\$')\" ]]"
printf 'cut-off upload: the library holds %s (nothing of cut.iso)\n' "$(ls -A "$DATA/isos" | tr '\n' ' ')"
