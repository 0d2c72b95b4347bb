#!/usr/bin/env bash
# Makes sure a libvirt daemon answers on qemu:///system; starts virtlogd + libvirtd if not
# (no systemd here: both must run, or every domain start fails).
source "$(dirname "$0")/lib.sh"

answers() { timeout 5 virsh -c qemu:///system version; }

if answers >/dev/null 2>&1; then exit 0; fi
[[ $(id -u) == 0 ]] || die "starting libvirtd needs root"
pgrep -x virtlogd >/dev/null || { log "libvirt: starting virtlogd"; virtlogd -d; }
pgrep -x libvirtd >/dev/null || { log "libvirt: starting libvirtd"; libvirtd -d; }
# The first start probes QEMU's capabilities (up to ~10 s).
wait_for 60 "libvirtd to answer on qemu:///system" answers
