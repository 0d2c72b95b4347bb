#!/usr/bin/env bash
# Benchmark (not a test) of the graphical console proxy (issue 10): Limen's
# GET /api/v1/vms/{uuid}/console beside websockify 0.13 + numpy (the proxy noVNC ships with),
# both relaying the same VNC-like byte source, in one run. Beside them, the ceilings: the same
# client straight to the source over TCP on its own core ("direct") and across cores ("across":
# what crossing from the server's core to the harness's costs with no proxy at all), and a bare
# tokio-tungstenite relay ("relay", the harness's own). Figures: throughput through one console, round trip of a small
# message (and what the proxy adds to the direct one), server CPU and memory at 1, 100 and 1,000
# open consoles, idle and with every console receiving 4 KiB every 100 ms.
# Every server runs on core 0; the client and the byte source (server/benches/console.rs) on
# core 1. Limen runs on libvirt's test driver with a node file of its own whose domains' VNC
# ports point at the byte source; the bench adopts them (they are ghosts) and opens one console
# per VM. websockify is installed into a venv in this checkout's state directory.
# Rerun with: make build && scripts/bench-console.sh [LEVELS [ROWS]]
#   LEVELS: open consoles to measure at, default 1,100,1000
#   ROWS: default direct,across,relay,websockify,limen (e.g. `1,100,1000 direct,limen` while
#   working on Limen's side; the table's ratios and "added" need websockify and direct)
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
LEVELS=${1:-1,100,1000}
ROWS=${2:-direct,across,relay,websockify,limen}
[[ -x target/release/limen ]] || die "build first: make build"
(( $(nproc) >= 2 )) || die "the bench needs two cores: servers on core 0, the harness on core 1"
started_at=$SECONDS
prepare_state_dir
DIR="$STATE_DIR/bench-console"
mkdir -p "$DIR"
rm -f "$DIR"/*.json "$DIR"/*.log
# 1,000 consoles are 2,000 sockets in a proxy, and as many in the harness.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# websockify 0.13 + numpy, in a venv of the bench's own (checked, then installed).
VENV="$STATE_DIR/websockify-venv"
if ! "$VENV/bin/python" -c 'import numpy, importlib.metadata as m; assert m.version("websockify") == "0.13.0"' 2>/dev/null; then
  /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null || {
    log "apt: installing python3-venv"; apt-get install -y -qq python3-venv >/dev/null; }
  log "pip: websockify 0.13.0 + numpy into $VENV"
  rm -rf "$VENV"
  /usr/bin/python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check websockify==0.13.0 numpy
fi

# The bench measures the product build. Building the harness (a bench of the server package)
# also builds the package's binary, with the tests' failpoints (server/Cargo.toml's
# dev-dependency), into this same target/release/limen: Limen runs from a copy taken before,
# and the product build is put back after (a new file: the build's hard link stays its own).
target/release/limen saga-example --help >/dev/null 2>&1 \
  && die "target/release/limen has the tests' failpoints (a cargo test or bench build): make build"
LIMEN="$DIR/limen"
rm -f "$LIMEN"
cp target/release/limen "$LIMEN"
log "build: the harness (cargo bench --no-run -p server --bench console)"
BENCH=$(cargo bench -q -p server --bench console --no-run --message-format=json \
  | grep '"kind":\["bench"\]' | grep '"name":"console"' \
  | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)
[[ -x "$BENCH" ]] || die "the console bench did not build"
cp "$LIMEN" target/release/limen.bench-console
mv -f target/release/limen.bench-console target/release/limen

# free_port START: the first port from START on that nothing answers.
free_port() {
  local port=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
  echo "$port"
}

# start NAME LINE COMMAND…: runs COMMAND in the background (log: $DIR/NAME.log) and waits for
# LINE in its log (or its exit); sets $pid.
pids=()
start() {
  local name=$1 line=$2; shift 2
  "$@" > "$DIR/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  local deadline=$((SECONDS + 60))
  until grep -qs -- "$line" "$DIR/$name.log"; do
    kill -0 "$pid" 2>/dev/null || die "$name exited: $(tail -n 5 "$DIR/$name.log")"
    (( SECONDS < deadline )) || die "timed out after 60 s waiting for $name to print \"$line\""
    sleep 0.1
  done
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
cleanup() { for p in "${pids[@]}"; do stop "$p"; done; }
trap cleanup EXIT

# The machine may be shared (other builds, other tests): each row starts when both cores have
# been under 10% busy for a second (for up to 10 minutes; then it goes on and says so). The
# table's others% shows any load that came during a window anyway.
busy_percent() {  # busy_percent: the busiest core's % over one second
  local a b
  a=$(grep '^cpu[0-9]' /proc/stat); sleep 1; b=$(grep '^cpu[0-9]' /proc/stat)
  paste <(echo "$a") <(echo "$b") | awk '{
    n = (NF - 2) / 2; t0 = t1 = 0
    for (i = 2; i <= n + 1; i++) { t0 += $i; t1 += $(i + n + 1) }
    idle = ($(n + 6) + $(n + 7)) - ($5 + $6)
    busy = 100 * (1 - idle / (t1 - t0)); if (busy > max) max = busy
  } END { printf "%d", max }'
}
wait_quiet() {
  local deadline=$((SECONDS + 600)) busy
  busy=$(busy_percent)
  (( busy < 10 )) && return 0
  log "waiting for the machine to be quiet (a core is ${busy}% busy)"
  until (( busy < 10 )); do
    (( SECONDS < deadline )) || { log "still ${busy}% busy after 10 minutes: measuring anyway"; return 0; }
    busy=$(busy_percent)
  done
}

SERVER=(taskset -c 0)
HARNESS=(taskset -c 1)
measure() { "${HARNESS[@]}" "$BENCH" measure "$@" --levels "$LEVELS" --source-pid "$source"; }

row_direct() {
  log "direct: the client straight to the source over TCP, both on core 1 (the harness's ceiling)"
  measure direct "$DIR/direct.json" --direct "127.0.0.1:$SOURCE_PORT"
}

row_across() {
  log "across: the client on core 1 straight to a byte source on core 0 (crossing cores, no proxy)"
  local port
  port=$(free_port 16079)
  start across-source "source listening" "${SERVER[@]}" "$BENCH" source "127.0.0.1:$port"
  measure across "$DIR/across.json" --direct "127.0.0.1:$port" --server-pid "$pid"
  stop "$pid"
}

row_relay() {
  log "relay: the harness's own bare WebSocket relay on core 0 (what a relay needs, at least)"
  local port
  port=$(free_port 16080)
  start relay "relay listening" "${SERVER[@]}" "$BENCH" relay "127.0.0.1:$port" "127.0.0.1:$SOURCE_PORT"
  measure relay "$DIR/relay.json" --url "ws://127.0.0.1:$port/" --server-pid "$pid"
  stop "$pid"
}

row_websockify() {
  log "websockify 0.13 on core 0 (one process per console)"
  local port
  port=$(free_port 16081)
  start websockify "proxying from" "${SERVER[@]}" env PYTHONUNBUFFERED=1 "$VENV/bin/websockify" \
    "127.0.0.1:$port" "127.0.0.1:$SOURCE_PORT"
  measure websockify "$DIR/websockify.json" --url "ws://127.0.0.1:$port/" --server-pid "$pid"
  stop "$pid"
}

row_limen() {
  log "limen on core 0: one VM per console (libvirt's test driver, VNC port = the byte source)"
  local consoles port db data limen token i
  consoles=$(tr ',' '\n' <<< "$LEVELS" | sort -n | tail -n 1)
  # Limen opens at most 4,096 consoles in all (then 429); past 4,000 the bench would measure
  # that limit (and the few sessions of the single-console runs still closing), not the relay.
  (( consoles <= 4000 )) || die "limen: at most 4000 consoles (Limen's limit is 4096 in all)"
  {
    echo "<node>"
    echo "  <cpu><mhz>2000</mhz><model>x86</model><active>2</active><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads></cpu>"
    echo "  <memory>25165824</memory>"
    for ((i = 0; i < consoles; i++)); do
      printf "  <domain type='test'><name>console-%d</name><uuid>00000000-0000-4000-8000-%012d</uuid>" "$i" "$i"
      printf "<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os><devices>"
      printf "<graphics type='vnc' port='%d' autoport='no' listen='127.0.0.1'/></devices></domain>\n" "$SOURCE_PORT"
    done
    echo "</node>"
  } > "$DIR/node.xml"
  for ((i = 0; i < consoles; i++)); do printf '00000000-0000-4000-8000-%012d\n' "$i"; done > "$DIR/uuids.txt"
  port=$(free_port 18560)
  db=$(bash scripts/postgres.sh --fresh limen_bench_console)
  data="$DIR/data"
  rm -rf "$data"; mkdir -p "$data"; chmod 755 "$data"
  export LIMEN_CONFIG=/dev/null LIMEN_DATABASE_URL="$db" LIMEN_DATA_DIR="$data" \
    LIMEN_LIBVIRT_URI="test://$DIR/node.xml" LIMEN_DOMAIN_TYPE=qemu LIMEN_LOG=warn \
    LIMEN_SITE_ROOT="$ROOT/target/site"
  # No periodic reconcile inside the measuring windows.
  LIMEN_LISTEN="127.0.0.1:$port" LIMEN_RECONCILE_SECS=0 "${SERVER[@]}" "$LIMEN" serve \
    > "$DIR/limen.log" 2>&1 &
  limen=$!
  pids+=("$limen")
  wait_for 60 "limen to be ready" curl -sf "http://127.0.0.1:$port/readyz"
  # An admin: the limit of 32 open consoles per user is for users who are not.
  export LIMEN_BENCH_USER=bench LIMEN_BENCH_PASSWORD="bench-$RANDOM-$RANDOM-$RANDOM"
  printf '%s\n' "$LIMEN_BENCH_PASSWORD" \
    | "$LIMEN" user add "$LIMEN_BENCH_USER" --admin --password-stdin >/dev/null
  log "limen: adopting $consoles ghost domains"
  token=$("${HARNESS[@]}" "$BENCH" adopt "http://127.0.0.1:$port" "$DIR/uuids.txt")
  measure limen "$DIR/limen.json" --url "ws://127.0.0.1:$port/api/v1/vms/{uuid}/console" \
    --uuids "$DIR/uuids.txt" --header "Authorization: Bearer $token" --server-pid "$limen"
  stop "$limen"
}

log "the byte source, on core 1"
SOURCE_PORT=$(free_port 5999)
start source "source listening" "${HARNESS[@]}" "$BENCH" source "127.0.0.1:$SOURCE_PORT"
source=$pid
outputs=()
for row in ${ROWS//,/ }; do
  declare -F "row_$row" >/dev/null || die "no row named $row (direct, across, relay, websockify, limen)"
  wait_quiet
  "row_$row"
  outputs+=("$DIR/$row.json")
done

{
  echo "Console proxy benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), limen $(git describe --always --dirty)," \
    "websockify $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("websockify"), "+ numpy", m.version("numpy"))')," \
    "$(nproc) cores; servers on core 0, harness on core 1"
  "$BENCH" table "${outputs[@]}"
  echo
  echo "Run took $((SECONDS - started_at)) s. Logs and figures (JSON): $DIR"
} | tee "$DIR/table.txt"
