#!/usr/bin/env bash
# The install test: `make install` into a staging root (DESTDIR, PREFIX=/usr), checks what landed
# where and with which modes, installs again over an edited limen.toml (kept) and a stale asset
# (gone), verifies the systemd unit, then `make uninstall` and checks what it removed and kept.
#   scripts/test-install.sh              into a fresh `mktemp -d`, removed at the end
#   scripts/test-install.sh --keep DIR   into DIR, left installed (no uninstall): the e2e tests
#                                        then run DIR/usr/bin/limen with DIR/usr/share/limen/site
# Nothing outside the staging root is touched: no database, no /etc, no systemd.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KEEP=false
case "${1:-}" in
  --keep)
    [[ -n "${2:-}" ]] || die "usage: scripts/test-install.sh [--keep DIR]"
    KEEP=true
    mkdir -p "$2"
    DEST=$(cd "$2" && pwd)
    ;;
  "")
    DEST=$(mktemp -d)
    trap 'rm -rf "$DEST"' EXIT
    ;;
  *) die "usage: scripts/test-install.sh [--keep DIR]" ;;
esac
cd "$ROOT" || exit   # after DIR was made absolute from the caller's directory

passed=0
failures=()
ok() { passed=$((passed + 1)); }
fail() { failures+=("$1"); printf 'test-install: FAIL: %s\n' "$1" >&2; }
# check DESCRIPTION COMMAND...: one check, counted.
check() {
  local what=$1; shift
  if "$@" >/dev/null 2>&1; then ok; else fail "$what"; fi
}
mode_is() { [[ -e $2 && $(stat -c %a "$2") == "$1" ]]; }
has_line() { grep -qxF -- "$2" "$1"; }
# run_make TARGET: make TARGET into DEST, its output kept in a log shown on failure.
run_make() {
  local out
  out=$(mktemp)
  if make -s -C "$ROOT" "$1" DESTDIR="$DEST" PREFIX=/usr >"$out" 2>&1; then
    ok
  else
    cat "$out" >&2
    fail "make $1 DESTDIR=$DEST PREFIX=/usr failed (output above)"
  fi
  LAST_OUTPUT=$(cat "$out")
  rm -f "$out"
}

BIN=$DEST/usr/bin/limen
SITE=$DEST/usr/share/limen/site
DOC=$DEST/usr/share/doc/limen
CONFIG=$DEST/etc/limen/limen.toml
UNIT=$DEST/etc/systemd/system/limen.service
DATA=$DEST/var/lib/limen
EDIT="# kept across installs (test-install.sh)"

log "test-install: make install DESTDIR=$DEST PREFIX=/usr"
run_make install
[[ ${#failures[@]} == 0 ]] || die "test-install: the first install failed; nothing more to check"

# What landed, with which modes.
check "$BIN is an executable file (0755)" mode_is 755 "$BIN"
check "$BIN is target/release/limen" cmp -s target/release/limen "$BIN"
check "$SITE is a copy of target/site" diff -r -q target/site "$SITE"
for asset in pkg/limen.js pkg/limen.wasm pkg/limen.css favicon.ico; do
  check "$SITE/$asset exists (a file of the dashboard's first load)" test -f "$SITE/$asset"
done
check "the site is readable by all (no file without o+r)" test -z "$(find "$SITE" ! -perm -o+r -print -quit)"
check "$DOC/README.md (0644)" mode_is 644 "$DOC/README.md"
check "$DOC/limen.toml.example (0644)" mode_is 644 "$DOC/limen.toml.example"
check "$CONFIG is 0600" mode_is 600 "$CONFIG"
if [[ $(id -u) == 0 ]]; then
  check "$CONFIG belongs to root" test "$(stat -c %U "$CONFIG")" == root
fi
for dir in "$DATA" "$DATA"/{disks,isos,images}; do
  check "$dir is a directory, mode 0711" mode_is 711 "$dir"
done
check "$UNIT is 0644" mode_is 644 "$UNIT"
check "the unit's ExecStart runs the installed binary" \
  has_line "$UNIT" "ExecStart=/usr/bin/limen --config /etc/limen/limen.toml serve"
check "the unit's Documentation names the installed README" \
  has_line "$UNIT" "Documentation=file:///usr/share/doc/limen/README.md"

# The installed limen.toml: the keys install sets (the binary cannot read it for us yet).
for line in 'listen = "0.0.0.0:18443"' 'tls = "self-signed"' 'data_dir = "/var/lib/limen"' \
  'site_root = "/usr/share/limen/site"' 'libvirt_uri = "qemu:///system"'; do
  check "limen.toml has the line: $line" has_line "$CONFIG" "$line"
done
check "limen.toml has a database_url" grep -q '^database_url = "postgres://' "$CONFIG"
if python3 -c 'import tomllib' >/dev/null 2>&1; then
  check "limen.toml is valid TOML" python3 -c 'import sys, tomllib; tomllib.load(open(sys.argv[1], "rb"))' "$CONFIG"
fi

# The unit: what `systemd-analyze verify` says, with the staged binary in place (the same way
# install.sh verifies it: --root=DESTDIR would need all of systemd's units under DESTDIR).
if command -v systemd-analyze >/dev/null; then
  verify_dir=$(mktemp -d)
  sed "s|^ExecStart=/usr/bin/limen |ExecStart=$BIN |" "$UNIT" > "$verify_dir/limen.service"
  if verify_out=$(systemd-analyze verify "$verify_dir/limen.service" 2>&1); then
    ok
    [[ -z $verify_out ]] || printf 'test-install: systemd-analyze verify passed, saying:\n%s\n' "$verify_out" >&2
  else
    fail "systemd-analyze verify limen.service: $verify_out"
  fi
  rm -rf "$verify_dir"
else
  log "test-install: no systemd-analyze here; the unit was not verified"
fi

# A second install: the edited limen.toml stays, a stale hashed asset goes, nothing else moves.
has_line "$CONFIG" "$EDIT" || printf '%s\n' "$EDIT" >> "$CONFIG"
touch "$SITE/pkg/stale-from-an-older-build.wasm"
log "test-install: make install again (over an edited limen.toml and a stale asset)"
run_make install
check "the second install kept the edited limen.toml" has_line "$CONFIG" "$EDIT"
check "the second install said it kept limen.toml" grep -q 'kept /etc/limen/limen.toml' <<< "$LAST_OUTPUT"
check "limen.toml is still 0600" mode_is 600 "$CONFIG"
check "the second install replaced the site (the stale asset is gone)" \
  test ! -e "$SITE/pkg/stale-from-an-older-build.wasm"
for leftover in "$SITE.new" "$SITE.old" "$BIN.new"; do
  check "no staging leftover ${leftover#"$DEST"}" test ! -e "$leftover"
done
check "the binary is still executable" mode_is 755 "$BIN"

if $KEEP; then
  summary="installed in $DEST and kept: $DEST/usr/bin/limen, site $DEST/usr/share/limen/site"
else
  log "test-install: make uninstall DESTDIR=$DEST PREFIX=/usr"
  run_make uninstall
  for path in "$BIN" "$SITE" "$DOC" "$UNIT" "$DEST/usr/share/limen"; do
    check "uninstall removed ${path#"$DEST"}" test ! -e "$path"
  done
  check "uninstall kept /etc/limen/limen.toml (with the edit)" has_line "$CONFIG" "$EDIT"
  for dir in "$DATA" "$DATA"/{disks,isos,images}; do
    check "uninstall kept ${dir#"$DEST"}" test -d "$dir"
  done
  log "test-install: make uninstall again (nothing left to remove)"
  run_make uninstall
  summary="installed, reinstalled and uninstalled in $DEST"
fi

if [[ ${#failures[@]} -gt 0 ]]; then
  printf 'test-install: %d of %d checks FAILED:\n' "${#failures[@]}" "$((passed + ${#failures[@]}))" >&2
  printf '  - %s\n' "${failures[@]}" >&2
  exit 1
fi
log "test-install: all $passed checks passed ($summary)"
