# Shared helpers for the scripts in this directory. Source it; don't run it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_DIR="$ROOT/.tools"          # npm-installed build tools (binaryen's wasm-opt)
export PATH="$HOME/.cargo/bin:$TOOLS_DIR/node_modules/.bin:$PATH"

# Two places hold what a run leaves behind:
#  - LOCAL_DIR, .limen/ in the checkout: what only root reads (limen.toml, which the binary run
#    from the checkout finds by default) and the link `.limen/state` to STATE_DIR.
#  - STATE_DIR: everything another user must reach — the PostgreSQL cluster (user postgres), the
#    data dir, e2e data and the test guest (QEMU runs as libvirt-qemu). A clone may sit where
#    only root can pass (/root is 0700, so is a `mktemp -d`), so this lives outside the checkout:
#    /var/lib/limen-dev/<checkout name>-<hash of its absolute path>, one per checkout.
LOCAL_DIR="$ROOT/.limen"
STATE_BASE=/var/lib/limen-dev
state_name() {
  local real name
  real=$(cd "$ROOT" && pwd -P)
  name=$(basename "$real" | tr -c 'A-Za-z0-9._\n-' '_' | cut -c1-32)
  printf '%s-%s' "$name" "$(printf '%s' "$real" | sha256sum | cut -c1-12)"
}
STATE_DIR="$STATE_BASE/$(state_name)"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# ensure_dir MODE DIR: creates DIR (root-owned) with MODE, or sets MODE if it differs.
ensure_dir() {
  if [[ ! -d "$2" ]]; then
    install -d -m "$1" "$2"
  elif [[ "$(stat -c %a "$2")" != "$1" ]]; then
    chmod "$1" "$2"
  fi
}

# prepare_state_dir: makes STATE_DIR (traversable by every user, listable by root only), the
# link .limen/state → STATE_DIR, and STATE_DIR/checkout naming the checkout it belongs to.
# Idempotent and cheap: each step checks first.
prepare_state_dir() {
  [[ $(id -u) == 0 ]] || die "the state directory $STATE_DIR is made by root (run as root)"
  ensure_dir 711 "$STATE_BASE"
  ensure_dir 711 "$STATE_DIR"
  [[ "$(cat "$STATE_DIR/checkout" 2>/dev/null)" == "$ROOT" ]] || echo "$ROOT" > "$STATE_DIR/checkout"
  mkdir -p "$LOCAL_DIR"
  if [[ "$(readlink "$LOCAL_DIR/state" 2>/dev/null)" != "$STATE_DIR" ]]; then
    [[ ! -e "$LOCAL_DIR/state" || -L "$LOCAL_DIR/state" ]] \
      || die "$LOCAL_DIR/state should be a link to $STATE_DIR; move it away"
    ln -sfn "$STATE_DIR" "$LOCAL_DIR/state"
  fi
}

# The newest PostgreSQL server binaries Debian installed (empty if none).
pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# wait_for SECONDS DESCRIPTION COMMAND...: polls COMMAND until it succeeds (a condition, not a sleep).
wait_for() {
  local seconds=$1 what=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < deadline )) || die "timed out after ${seconds}s waiting for $what"
    sleep 0.2
  done
}
