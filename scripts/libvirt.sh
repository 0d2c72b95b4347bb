#!/usr/bin/env bash
# Makes sure the system libvirt daemon answers on qemu:///system; starts virtlogd + libvirtd if
# not (no systemd here: both must run, or every domain start fails).
# The system daemons are found by their pid files (what `virtlogd -d` and `libvirtd -d` write as
# root), never by process name: a session-mode libvirtd (started by libvirt-dbus or a desktop
# user) or a second daemon with its own pid file has the same name.
source "$(dirname "$0")/lib.sh"

answers() { timeout 5 virsh -c qemu:///system version; }
# running NAME PIDFILE: the pid file names a live process called NAME.
running() {
  local pid
  pid=$(cat "$2" 2>/dev/null) && [[ $pid =~ ^[0-9]+$ ]] \
    && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$1" ]]
}

if answers >/dev/null 2>&1; then exit 0; fi
[[ $(id -u) == 0 ]] || die "starting libvirtd needs root"
running virtlogd /run/virtlogd.pid || { log "libvirt: starting virtlogd"; virtlogd -d; }
running libvirtd /run/libvirtd.pid || { log "libvirt: starting libvirtd"; libvirtd -d; }
# The first start probes QEMU's capabilities (up to ~10 s).
wait_for 60 "libvirtd to answer on qemu:///system (socket /run/libvirt/libvirt-sock)" answers
