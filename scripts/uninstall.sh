#!/usr/bin/env bash
# `make uninstall`: removes what `make install` put in place — the binary, the dashboard assets,
# the docs and the systemd unit (stopped and disabled first when systemd runs it). It never
# removes the VMs, their disks (/var/lib/limen), /etc/limen/limen.toml or the database: it
# prints how to remove those. Same DESTDIR and PREFIX as the install; idempotent.
#   [DESTDIR=/staging/root] [PREFIX=/usr/local] scripts/uninstall.sh
set -euo pipefail
# shellcheck source=scripts/install.sh
source "$(dirname "${BASH_SOURCE[0]}")/install.sh"   # the paths and helpers; its main is not run

set_paths
require_root_unless_staging "make uninstall"

removed=0
remove() {   # remove PATH...: rm -rf each that exists, saying so
  local path
  for path in "$@"; do
    if [[ -e $path || -L $path ]]; then
      rm -rf "$path"
      log "uninstall: removed ${path#"$DESTDIR"}"
      removed=$((removed + 1))
    fi
  done
}

if [[ -z $DESTDIR ]] && systemd_running && [[ -f $UNIT ]]; then
  log "uninstall: stopping and disabling limen.service"
  systemctl disable --now limen.service
fi
remove "$DESTDIR$UNIT"
if [[ -z $DESTDIR ]] && systemd_running; then systemctl daemon-reload; fi

if [[ -z $DESTDIR ]]; then
  pids=$(running_pids "$BIN")
  if [[ -n $pids ]]; then
    log "warning: $BIN is still running (pid $pids), started by hand; it keeps running from the removed file until you stop it (kill $pids)"
  fi
fi
remove "$DESTDIR$BIN" "$DESTDIR$BIN.new" "$DESTDIR$SITE" "$DESTDIR$SITE.new" "$DESTDIR$SITE.old" "$DESTDIR$DOC"
if [[ -d $DESTDIR$PREFIX/share/limen ]]; then rmdir --ignore-fail-on-non-empty "$DESTDIR$PREFIX/share/limen"; fi
[[ $removed -gt 0 ]] || log "uninstall: nothing of Limen's was installed under ${DESTDIR:-}${PREFIX:-/} (already uninstalled)"

kept=()
for path in "$CONFIG" "$DATA"; do
  if [[ -e $DESTDIR$path ]]; then kept+=("$path"); fi
done
if [[ -n $DESTDIR ]]; then
  log "uninstall: kept under $DESTDIR: ${kept[*]:-nothing}"
  exit 0
fi
cat >&2 <<EOF
Kept: ${kept[*]:-nothing in /etc/limen or $DATA}, the database and the VMs.
  - The VMs stay defined in libvirt and may still be running (virsh list --all); their disks
    are in $DATA/disks. Before removing $DATA, delete the VMs you no longer want
    (virsh destroy NAME; virsh undefine NAME --snapshots-metadata --nvram): the others break
    once their disks are gone.
  - The database (role and database limen, if make install made them on this host):
      runuser -u postgres -- dropdb limen && runuser -u postgres -- dropuser limen
  - The settings (they hold the database password): rm -r /etc/limen
  - The disks, ISOs, base images and the self-signed certificate: rm -r $DATA
EOF
