#!/usr/bin/env bash
# `make run`: install what is missing, start PostgreSQL (unless LIMEN_DATABASE_URL is set) and
# libvirtd, make the data dir, write .limen/limen.toml, build, and serve Limen in the foreground.
#   scripts/run.sh [--prepare-only]   --prepare-only: everything before the build, then exit
# The database cluster and the data dir live in this checkout's state directory (STATE_DIR in
# lib.sh, linked from .limen/state), where users postgres and libvirt-qemu can reach them
# wherever the checkout is.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
PREPARE_ONLY=false
case "${1:-}" in
  --prepare-only) PREPARE_ONLY=true ;;
  "") ;;
  *) die "usage: scripts/run.sh [--prepare-only]" ;;
esac

bash scripts/deps.sh run
prepare_state_dir
database_url=${LIMEN_DATABASE_URL:-$(bash scripts/postgres.sh limen)}
libvirt_uri=${LIMEN_LIBVIRT_URI:-qemu:///system}
[[ "$libvirt_uri" != qemu:///system ]] || bash scripts/libvirt.sh

# The same rule as LIMEN_DOMAIN_TYPE=auto, written down so the choice is visible.
if [[ -n "${LIMEN_DOMAIN_TYPE:-}" ]]; then
  domain_type=$LIMEN_DOMAIN_TYPE
elif [[ -e /dev/kvm ]] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
  domain_type=kvm
else
  domain_type=qemu
fi
# Our own data dir: traversable (QEMU opens disks by name), listable by root only. A dir given
# in LIMEN_DATA_DIR keeps its modes; only the missing search bit for others is added.
if [[ -z "${LIMEN_DATA_DIR:-}" ]]; then
  data_dir="$STATE_DIR/data"
  for dir in "$data_dir" "$data_dir"/{disks,isos,images}; do ensure_dir 711 "$dir"; done
else
  data_dir=$LIMEN_DATA_DIR
  mkdir -p "$data_dir"/{disks,isos,images}
  for dir in "$data_dir" "$data_dir"/{disks,isos,images}; do
    [[ "$(stat -c %A "$dir")" == *[xt] ]] || chmod o+x "$dir"
  done
fi
if id libvirt-qemu >/dev/null 2>&1 && ! runuser -u libvirt-qemu -- test -x "$data_dir/disks"; then
  log "warning: QEMU (user libvirt-qemu) cannot reach $data_dir/disks; VMs will fail to start. Make its parent directories world-executable or set LIMEN_DATA_DIR."
fi
config="$LOCAL_DIR/limen.toml"
new_config=$(cat <<TOML
# Written by \`make run\`; \`target/release/limen\` run from this checkout reads it by default.
# Environment variables (LIMEN_*) override every line.
database_url = "$database_url"
libvirt_uri = "$libvirt_uri"
domain_type = "$domain_type"
data_dir = "$data_dir"
TOML
)
if [[ "$(cat "$config" 2>/dev/null)" != "$new_config" ]]; then
  (umask 077 && printf '%s\n' "$new_config" > "$config")
  log "run: wrote $config"
fi
if $PREPARE_ONLY; then
  log "run: prepared (database, libvirtd, $data_dir, $config); not building or serving"
  exit 0
fi

bash scripts/build.sh
umask 077   # as before: what the server creates (disks) is root's alone until libvirt hands it to QEMU
log "serving http://${LIMEN_LISTEN:-127.0.0.1:18443} (Ctrl-C stops Limen; PostgreSQL and libvirtd stay up)"
exec target/release/limen serve
