#!/usr/bin/env bash
# The clone test: a newcomer's `git clone` into a directory only root can pass (like /root, mode
# 0700; here a `mktemp -d`), then `make run`'s preparation (scripts/run.sh --prepare-only:
# installs skipped when present, the PostgreSQL cluster created and started, libvirtd answering,
# the data dir made, .limen/limen.toml written). Asserts that users postgres and libvirt-qemu
# reach what they must although they cannot enter the clone, that a second preparation is a
# no-op, and cleans up: the clone's cluster stopped, its state dir and the clone removed.
# Takes seconds; part of `make test`. Needs the tools installed (scripts/deps.sh all) and root.
#   scripts/test-clone.sh
source "$(dirname "$0")/lib.sh"
[[ $(id -u) == 0 ]] || die "the clone test needs root (runuser, the state dir in $STATE_BASE)"
started=$SECONDS

fail() { printf 'clone test FAILED: %s\n' "$*" >&2; exit 1; }
check() { # check DESCRIPTION COMMAND...: runs COMMAND, fails the test with DESCRIPTION if it fails
  local what=$1; shift
  "$@" >/dev/null 2>&1 || fail "$what ($*)"
}

tmp=$(mktemp -d /tmp/limen-clone.XXXXXX)   # mode 0700, as /root
clone="$tmp/limen"
clone_state=""
cleanup() {
  if [[ -n "$clone_state" && -d "$clone_state" ]]; then
    bash "$clone/scripts/state.sh" remove "$clone_state" 2>/dev/null \
      || bash "$ROOT/scripts/state.sh" remove "$clone_state" || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo $$ > "$tmp/test.pid"

# What an earlier run killed before its cleanup left behind: the state dirs (and clusters) of
# test clones whose test process is gone.
for dir in "$STATE_BASE"/limen-*/; do
  owner=$(cat "$dir/checkout" 2>/dev/null) || continue
  [[ "$owner" == /tmp/limen-clone.*/limen ]] || continue
  pid=$(cat "${owner%/limen}/test.pid" 2>/dev/null || true)
  if [[ -z "$pid" ]] || ! kill -0 "$pid" 2>/dev/null; then
    log "clone test: removing the leftovers of an interrupted run (${owner%/limen})"
    bash "$ROOT/scripts/state.sh" remove "${dir%/}" || log "clone test: could not remove ${dir%/}"
    rm -rf "${owner%/limen}"
  fi
done

check "the test's directory is not reachable by postgres" bash -c "! runuser -u postgres -- test -x '$tmp'"
check "the test's directory is not reachable by libvirt-qemu" bash -c "! runuser -u libvirt-qemu -- test -x '$tmp'"

git clone -q "$ROOT" "$clone" || fail "cannot git clone $ROOT"
# Test the scripts as they are in this working tree, committed or not.
if [[ -n "$(git -C "$ROOT" status --porcelain -- scripts Makefile)" ]]; then
  log "clone test: using this working tree's uncommitted scripts/ and Makefile"
  cp -a "$ROOT/scripts/." "$clone/scripts/"
  cp -a "$ROOT/Makefile" "$clone/Makefile"
fi
clone_state=$(bash -c 'source "$1/scripts/lib.sh" && echo "$STATE_DIR"' _ "$clone")
[[ "$clone_state" == "$STATE_BASE"/limen-???????????? ]] || fail "unexpected state dir name $clone_state"
[[ "$clone_state" != "$STATE_DIR" ]] || fail "the clone shares this checkout's state dir"
[[ ! -e "$clone_state" ]] || fail "$clone_state exists before the clone's first run"

# prepare LOG: the clone's `make run` preparation, with none of this shell's LIMEN_* settings.
# The tools come from this checkout: ~/.cargo/bin and (inherited PATH) this checkout's .tools.
prepare() {
  (cd "$clone" && env -u LIMEN_DATABASE_URL -u DATABASE_URL -u LIMEN_DATA_DIR -u LIMEN_LIBVIRT_URI \
    -u LIMEN_PG_PORT -u LIMEN_DOMAIN_TYPE -u LIMEN_CONFIG \
    bash scripts/run.sh --prepare-only) >"$1" 2>&1 || { cat "$1" >&2; fail "the clone's preparation failed"; }
}
log "clone test: preparing a run in $clone (mode $(stat -c %a "$tmp") parent)"
t0=$SECONDS
prepare "$tmp/first.log"
first=$((SECONDS - t0))
if grep -E 'installing|rustup: adding' "$tmp/first.log" >&2; then
  fail "the clone's preparation installed tools (run scripts/deps.sh all first)"
fi
if grep -Ei 'permission denied|cannot reach|warning' "$tmp/first.log" >&2; then
  fail "the clone's preparation complained (above)"
fi

# Where the state went, and how a person finds it.
[[ "$(readlink "$clone/.limen/state")" == "$clone_state" ]] || fail ".limen/state does not link to $clone_state"
[[ "$(cat "$clone_state/checkout")" == "$clone" ]] || fail "$clone_state/checkout does not name the clone"
config="$clone/.limen/limen.toml"
[[ -f "$config" ]] || fail "no $config"
check "limen.toml is root's alone" test "$(stat -c %a "$config")" = 600
grep -qx "data_dir = \"$clone_state/data\"" "$config" || fail "data_dir in $config is not $clone_state/data"

# PostgreSQL: the cluster belongs to postgres and answers on the URL the config names.
url=$(sed -n 's/^database_url = "\(.*\)"$/\1/p' "$config")
[[ "$url" == postgres://* ]] || fail "no database_url in $config"
check "the cluster dir belongs to postgres" test "$(stat -c %U:%a "$clone_state/pg/data")" = postgres:700
answer=$("$(pg_bin)/psql" "$url" -tAc 'SELECT current_user || current_database()' 2>&1) \
  || fail "PostgreSQL does not answer on the URL in $config: $answer"
[[ "$answer" == limenlimen ]] || fail "unexpected answer from PostgreSQL: $answer"

# QEMU (libvirt-qemu): passes into every library, reads an ISO root put there, and writes a disk
# once libvirt has handed it over (dynamic ownership chowns a VM's images when it starts).
data="$clone_state/data"
for dir in disks isos images; do
  check "libvirt-qemu can traverse $data/$dir" runuser -u libvirt-qemu -- test -x "$data/$dir"
done
check "others cannot list the state dir" bash -c "! runuser -u libvirt-qemu -- ls '$clone_state'"
qemu-img create -q -f qcow2 "$data/disks/clone-test.qcow2" 1M
chown libvirt-qemu "$data/disks/clone-test.qcow2"
check "libvirt-qemu can write a disk in $data/disks" runuser -u libvirt-qemu -- touch "$data/disks/clone-test.qcow2"
check "libvirt-qemu can open a disk in $data/disks" runuser -u libvirt-qemu -- qemu-img info -U "$data/disks/clone-test.qcow2"
printf 'iso' > "$data/isos/clone-test.iso" && chmod 644 "$data/isos/clone-test.iso"
check "libvirt-qemu can read an ISO in $data/isos" runuser -u libvirt-qemu -- head -c 1 "$data/isos/clone-test.iso"
rm -f "$data/disks/clone-test.qcow2" "$data/isos/clone-test.iso"

# A second preparation: every step checks and finds it done.
t0=$SECONDS
prepare "$tmp/second.log"
second=$((SECONDS - t0))
if grep -Ei 'installing|creating|starting|wrote|permission denied|warning' "$tmp/second.log" >&2; then
  fail "the second preparation did something again, or complained"
fi
check "PostgreSQL still answers" "$(pg_bin)/psql" "$url" -tAc 'SELECT 1'

# Clean up, and check that it did.
port=${url##*:}; port=${port%%/*}
bash "$clone/scripts/state.sh" remove "$clone_state" >"$tmp/remove.log" 2>&1 \
  || { cat "$tmp/remove.log" >&2; fail "scripts/state.sh remove failed"; }
if grep -Ei 'permission denied' "$tmp/remove.log" >&2; then fail "scripts/state.sh remove complained (above)"; fi
[[ ! -e "$clone_state" ]] || fail "$clone_state is still there"
check "the clone's PostgreSQL is stopped" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$port)"
rm -rf "$tmp"
log "clone test: passed in $((SECONDS - started)) s (first preparation ${first} s, second ${second} s; state was $clone_state)"
