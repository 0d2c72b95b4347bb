#!/usr/bin/env bash
# `make run`: install what is missing, start PostgreSQL (unless LIMEN_DATABASE_URL is set) and
# libvirtd, build, write .limen/limen.toml, and serve Limen in the foreground.
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
bash scripts/deps.sh run
database_url=${LIMEN_DATABASE_URL:-$(bash scripts/postgres.sh limen)}
libvirt_uri=${LIMEN_LIBVIRT_URI:-qemu:///system}
[[ "$libvirt_uri" != qemu:///system ]] || bash scripts/libvirt.sh
bash scripts/build.sh

# The same rule as LIMEN_DOMAIN_TYPE=auto, written down so the choice is visible.
if [[ -n "${LIMEN_DOMAIN_TYPE:-}" ]]; then
  domain_type=$LIMEN_DOMAIN_TYPE
elif [[ -e /dev/kvm ]] && grep -qwE 'vmx|svm' /proc/cpuinfo; then
  domain_type=kvm
else
  domain_type=qemu
fi
data_dir=${LIMEN_DATA_DIR:-$STATE_DIR/data}
mkdir -p "$data_dir"/{disks,isos,images}
chmod 755 "$STATE_DIR" "$data_dir" "$data_dir"/{disks,isos,images}
if id libvirt-qemu >/dev/null 2>&1 && ! runuser -u libvirt-qemu -- test -x "$data_dir/disks"; then
  log "warning: QEMU (user libvirt-qemu) cannot reach $data_dir/disks; VMs will fail to start. Make the checkout's parent directories world-executable or set LIMEN_DATA_DIR."
fi
umask 077
cat > "$STATE_DIR/limen.toml" <<TOML
# Written by \`make run\`; \`target/release/limen\` run from this checkout reads it by default.
# Environment variables (LIMEN_*) override every line.
database_url = "$database_url"
libvirt_uri = "$libvirt_uri"
domain_type = "$domain_type"
data_dir = "$data_dir"
TOML
log "serving http://${LIMEN_LISTEN:-127.0.0.1:18443} (Ctrl-C stops Limen; PostgreSQL and libvirtd stay up)"
exec target/release/limen serve
