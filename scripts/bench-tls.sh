#!/usr/bin/env bash
# Benchmark (not a test) of HTTPS served by Limen itself (issue 14): wrk on /healthz over plain
# HTTP (the ceiling), over HTTPS with kept-alive connections (the cost of encryption), and over
# HTTPS with a new connection per request (the cost of a TLS handshake), the same release
# binary each time. The server runs on core 0, wrk on core 1.
# Rerun with: make build && scripts/bench-tls.sh [SECONDS]
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
SECONDS_EACH=${1:-10}
[[ -x target/release/limen ]] || die "build first: make build"
command -v wrk >/dev/null || die "wrk is needed (apt-get install wrk)"
prepare_state_dir
DIR="$STATE_DIR/bench-tls"
rm -rf "$DIR"; mkdir -p "$DIR/data"
server_cpu=() client_cpu=()
if (( $(nproc) >= 2 )); then server_cpu=(taskset -c 0); client_cpu=(taskset -c 1); fi

DB=$(bash scripts/postgres.sh --fresh limen_bench_tls)
PORT=18561
export LIMEN_CONFIG=/dev/null LIMEN_DATABASE_URL="$DB" LIMEN_DATA_DIR="$DIR/data" \
  LIMEN_LISTEN="127.0.0.1:$PORT" LIMEN_LIBVIRT_URI=test:///default LIMEN_LOG=warn
server=
stop() { [[ -z "$server" ]] || { kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true; }; server=; }
trap stop EXIT

# rate NAME TLS URL [WRK ARGS…]: sets NAME to the requests per second wrk measured against a
# server with LIMEN_TLS=TLS (its log in $DIR/NAME.log).
rate() {
  local name=$1 tls=$2 url=$3; shift 3
  stop
  LIMEN_TLS=$tls "${server_cpu[@]}" target/release/limen serve >"$DIR/$name.log" 2>&1 &
  server=$!
  wait_for 30 "limen to be ready" curl -skf "$url/readyz"
  printf -v "$name" '%s' "$("${client_cpu[@]}" wrk -t1 -c32 -d"${SECONDS_EACH}s" "$@" "$url/healthz" \
    | awk '/Requests\/sec/ {print $2}')"
}

rate plain off "http://127.0.0.1:$PORT"
rate kept self-signed "https://127.0.0.1:$PORT"
rate fresh self-signed "https://127.0.0.1:$PORT" -H 'Connection: close'
stop
printf 'GET /healthz, 32 connections, %s s each (server on core 0, wrk on core 1):\n' "$SECONDS_EACH"
printf '  plain HTTP, kept alive (the ceiling)   %10.0f req/s\n' "$plain"
printf '  HTTPS, kept alive                      %10.0f req/s (%.0f %% of the ceiling)\n' \
  "$kept" "$(echo "100 * $kept / $plain" | bc -l)"
printf '  HTTPS, a new TLS handshake per request %10.0f req/s\n' "$fresh"
