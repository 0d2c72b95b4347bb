#!/usr/bin/env bash
# The dashboard's first-load budget (run scripts/build.sh first): serves the built binary on a
# port of its own, against a fresh database and libvirt's in-process test driver, with an admin
# and three VMs, and loads the logged-in dashboard once in Debian's Chromium with a cold cache.
# Prints the bytes over the wire per request and exits 1 when their sum is over the budget
# (324 KiB = 331,776 bytes unless LIMEN_FIRST_LOAD_BUDGET says otherwise). Takes a few seconds.
# It was 300 KiB until the dashboard spoke two languages: every text is now a value the hydrated
# page needs in the page's language, where a static English text used to be left out of the WASM.
# It was 320 KiB until several hosts: the create dialog's host choice (the hosts, deserialized),
# the filter by host and each card's host are on the first page (+1 KiB).
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
[[ -x target/release/limen && -d target/site/pkg ]] || die "build first: scripts/build.sh"
port=${LIMEN_BUDGET_PORT:-18557}
budget=${LIMEN_FIRST_LOAD_BUDGET:-$((324 * 1024))}
base="http://127.0.0.1:$port"
prepare_state_dir
data="$STATE_DIR/budget-data"
rm -rf "$data"
mkdir -p "$data"/{disks,isos,images}
export LIMEN_CONFIG=/dev/null LIMEN_LIBVIRT_URI=test:///default LIMEN_DATA_DIR="$data" \
  LIMEN_LISTEN="127.0.0.1:$port" LIMEN_LOG=warn LIMEN_RECONCILE_SECS=0
LIMEN_DATABASE_URL=$(bash scripts/postgres.sh --fresh limen_budget)
export LIMEN_DATABASE_URL
user=budget-admin
password="budget-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s\n' "$password" | target/release/limen user add "$user" --admin --password-stdin >/dev/null

target/release/limen serve &
server=$!
trap 'kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true' EXIT
wait_for 60 "Limen on $base" curl -fsS "$base/readyz"

# A dashboard as a person has it: three VMs on the cards.
token=$(curl -fsS -H 'content-type: application/json' \
  -d "{\"username\":\"$user\",\"password\":\"$password\"}" "$base/api/v1/auth/login" |
  sed -E 's/.*"token":"([^"]+)".*/\1/')
for i in 1 2 3; do
  curl -fsS -o /dev/null -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"name\":\"budget-vm-$i\",\"cpu\":1,\"memory\":512,\"disk_size\":4}" "$base/api/v1/vms"
done

LIMEN_BENCH_USER=$user LIMEN_BENCH_PASSWORD=$password \
  node end2end/bench/first-load.mjs "$base/" "$budget"
