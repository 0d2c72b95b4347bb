#!/usr/bin/env bash
# A second, independent libvirt "host" on this machine, for the tests of several hosts and of
# live migration between them: its own virtlogd + libvirtd in private mount, UTS and cgroup
# namespaces, sharing the network and the files (STATE_DIR's test guest, disks) with the main
# libvirtd. Recipe and traps measured in ENV.md, "Two libvirt hosts on one machine".
#   scripts/second-host.sh start    starts it if it does not answer; prints its URI (only that,
#                                   on stdout); idempotent
#   scripts/second-host.sh uri      prints its URI, running or not
#   scripts/second-host.sh main-uri prints the main host's URI as the second host sees it (the
#                                   destination of a peer-to-peer migration from it)
#   scripts/second-host.sh stop     destroys its domains, stops its daemons; idempotent
#   scripts/second-host.sh remove   stop, then delete its directory (the next start is cold)
# Seen from the main namespace it is qemu+unix:///system?socket=SECOND/run/libvirt-sock. Inside
# its namespace qemu:///system is itself: it reaches the main host through the side mount,
# qemu+unix:///system?socket=SECOND/main-run/libvirt-sock (SECOND = $STATE_DIR/second-host).
# Live migration both ways, measured: `virsh -c SRC migrate --live --p2p --persistent
# --undefinesource --unsafe NAME DEST` (DEST: `uri`, or back `main-uri`); --unsafe because the
# disks sit on a local file system both hosts share, which libvirt cannot know is shared.
source "$(dirname "$0")/lib.sh"

SELF=$(realpath "${BASH_SOURCE[0]}")
HOST_DIR="$STATE_DIR/second-host"
URI="qemu+unix:///system?socket=$HOST_DIR/run/libvirt-sock"
MAIN_URI="qemu+unix:///system?socket=$HOST_DIR/main-run/libvirt-sock"
HOST_NAME=limen-second
# Its own cgroup in every hierarchy, one per checkout: both daemons name a VM's cgroup
# /machine/qemu-<id>-<name> and count ids from 1, so without a subtree of its own a migrated VM
# (same name) would share a cgroup with a stranger.
CGROUP_NAME="limen-second-$(basename "$STATE_DIR")"

answers() { timeout 5 virsh -c "$URI" version; }
# settled: it answers, or its libvirtd has exited (it does at once if it dislikes its config:
# no need to wait out the deadline then).
settled() { answers || ! running libvirtd "$HOST_DIR/run/libvirtd.pid"; }
# alive PID: the process runs. A killed daemon (its parent is init) stays a zombie until init
# reaps it, here up to seconds later: that counts as gone.
alive() {
  local state
  state=$(grep '^State:' "/proc/$1/status" 2>/dev/null) && [[ $state != *zombie* ]]
}
# running NAME PIDFILE: the pid file names a live process called NAME (never `pgrep -x libvirtd`:
# that finds the main daemon too).
running() {
  local pid
  pid=$(cat "$2" 2>/dev/null) && [[ $pid =~ ^[0-9]+$ ]] && alive "$pid" \
    && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == "$1" ]]
}

# gone PID...: none of these processes is left.
gone() {
  local pid
  for pid in "$@"; do ! alive "$pid" || return 1; done
}

# cgroup_dirs: this process's cgroup directory in each cgroup hierarchy mounted here.
cgroup_dirs() {
  local target fstype opts id controllers path c
  while read -r target fstype opts; do
    while IFS=: read -r id controllers path; do
      if [[ $fstype == cgroup2 ]]; then
        [[ $id == 0 ]] || continue
      else
        [[ $id != 0 ]] || continue
        # A v1 hierarchy is the one mounted with all of the line's controllers (cpu, name=systemd).
        for c in ${controllers//,/ }; do [[ ",$opts," == *",$c,"* ]] || continue 2; done
      fi
      echo "${target%/}$path"
      break
    done < /proc/self/cgroup
  done < <(findmnt -rn -t cgroup,cgroup2 -o TARGET,FSTYPE,FS-OPTIONS)
}

# host_cgroups: the second host's cgroup in each hierarchy (they exist once it has started).
host_cgroups() {
  local dir
  for dir in $(cgroup_dirs); do echo "${dir%/}/$CGROUP_NAME"; done
}

# host_pids: every process in the second host's cgroups: its daemons and its QEMUs.
host_pids() {
  local dir
  for dir in $(host_cgroups); do
    if [[ -d $dir ]]; then find "$dir" -name cgroup.procs -exec cat {} +; fi
  done | sort -u
}

# enter_cgroup: moves this (sub)shell into the second host's cgroup in every hierarchy, so that
# `unshare --cgroup` after it makes that cgroup the namespace's root.
enter_cgroup() {
  local dir parent file
  for dir in $(host_cgroups); do
    mkdir -p "$dir"
    # cgroup v1 cpuset: a new cgroup has no cpus or mems, and takes no process until it has.
    parent=$(dirname "$dir")
    for file in cpuset.cpus cpuset.mems; do
      if [[ -f $dir/$file && -z "$(cat "$dir/$file")" ]]; then cat "$parent/$file" > "$dir/$file"; fi
    done
    echo "$BASHPID" > "$dir/cgroup.procs"
  done
}

# set_conf FILE KEY VALUE...: sets each KEY = VALUE in a libvirt config file. Any active line of
# the key goes first: libvirt reads the first of duplicate keys.
set_conf() {
  local file=$1; shift
  while (( $# )); do
    sed -i -E "/^[[:space:]]*$1[[:space:]]*=/d" "$file"
    echo "$1 = $2" >> "$file"
    shift 2
  done
}

prepare_dirs() {
  mkdir -p "$HOST_DIR"/{run,lib,cache/qemu,log,main-run}
  chmod 755 "$HOST_DIR"/{run,lib,log}
  chmod 711 "$HOST_DIR"/cache "$HOST_DIR"/cache/qemu
  # Its own host UUID, made once and kept: with the main host's, libvirt refuses a migration
  # ("Attempt to migrate guest to the same host").
  [[ -s $HOST_DIR/host-uuid ]] || cat /proc/sys/kernel/random/uuid > "$HOST_DIR/host-uuid"

  # /etc/libvirt, copied once (then it holds this host's own definitions). The copy must not
  # carry the main host's domains (same UUIDs), networks, pools, secrets or autostart links.
  if [[ ! -d $HOST_DIR/etc ]]; then
    rm -rf "$HOST_DIR/etc.new"
    cp -a /etc/libvirt "$HOST_DIR/etc.new"
    rm -rf "$HOST_DIR"/etc.new/qemu/*.xml "$HOST_DIR"/etc.new/qemu/{networks,autostart} \
      "$HOST_DIR"/etc.new/storage "$HOST_DIR"/etc.new/secrets/*
    mv "$HOST_DIR/etc.new" "$HOST_DIR/etc"
  fi
  # The two config files, from the main host's at each start, with what must differ.
  cp /etc/libvirt/libvirtd.conf /etc/libvirt/qemu.conf "$HOST_DIR/etc/"
  set_conf "$HOST_DIR/etc/libvirtd.conf" host_uuid "\"$(cat "$HOST_DIR/host-uuid")\""
  # Ports of its own (both daemons share the network). An incoming migration's source QEMU is
  # sent to this host's name, limen-second, which resolves nowhere ("Unable to resolve address
  # 'limen-second'") unless the caller gives a migrate URI: give an address. libvirt refuses
  # 127.0.0.1 there ("must not be the address of the local machine") but takes 127.0.0.2.
  set_conf "$HOST_DIR/etc/qemu.conf" \
    remote_display_port_min 6900 remote_display_port_max 6999 \
    remote_websocket_port_min 6800 remote_websocket_port_max 6899 \
    migration_port_min 49400 migration_port_max 49499 \
    migration_host '"127.0.0.2"'

  # The main daemon's QEMU capabilities cache: a start in ~0.2 s instead of ~8 s of probing.
  if [[ -d /var/cache/libvirt/qemu/capabilities ]]; then
    cp -a -u /var/cache/libvirt/qemu/capabilities "$HOST_DIR/cache/qemu/"
  fi
}

# Runs inside the new namespaces (as `second-host.sh in-namespace`): the private directories
# over libvirt's, cgroupfs afresh, a hostname, then the two daemons, which keep the namespaces
# alive once this script has exited.
in_namespace() {
  # The main /run/libvirt to the side first: once it is covered, that is the only way left to
  # the main host's socket (migrating back).
  mount --bind /run/libvirt "$HOST_DIR/main-run"
  mount --bind "$HOST_DIR/run" /run/libvirt
  if [[ "$(realpath -m /var/run/libvirt)" != /run/libvirt ]]; then
    mount --bind "$HOST_DIR/run" /var/run/libvirt
  fi
  mount --bind "$HOST_DIR/lib" /var/lib/libvirt
  mount --bind "$HOST_DIR/cache" /var/cache/libvirt
  mount --bind "$HOST_DIR/log" /var/log/libvirt
  mount --bind "$HOST_DIR/etc" /etc/libvirt

  # cgroupfs mounted again in this cgroup namespace shows only its root, the host's own cgroup:
  # libvirtd sees itself at / and makes /machine/... under it.
  local mounts target fstype opts
  mounts=$(findmnt -rn -t cgroup,cgroup2 -o TARGET,FSTYPE,FS-OPTIONS)
  umount -R /sys/fs/cgroup
  mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
  while read -r target fstype opts; do
    mkdir -p "$target"
    mount -t "$fstype" -o "$(sed -E 's/(^|,)release_agent=[^,]*//' <<< "$opts")" "$fstype" "$target"
  done <<< "$mounts"

  hostname "$HOST_NAME"
  # Pid files of their own: the default ones (/run/virtlogd.pid, /run/libvirtd.pid) are the
  # main daemons'. Inside, /run/libvirt is HOST_DIR/run.
  virtlogd -d -p /run/libvirt/virtlogd.pid
  libvirtd -d -p /run/libvirt/libvirtd.pid
}

start() {
  if answers >/dev/null 2>&1; then echo "$URI"; return; fi
  local began=$EPOCHREALTIME
  # The main host must run: its /run/libvirt is mounted aside and its QEMU capabilities copied.
  bash "$ROOT/scripts/libvirt.sh" 9>&-   # the daemons it may start must not hold our lock
  stop   # what a crashed or half-started second host left
  prepare_state_dir
  prepare_dirs
  log "second host: starting libvirtd in its own namespaces ($HOST_DIR)"
  # Not our stdout (a caller reading it in $(...) would wait for the daemons), nor the lock's
  # fd 9 (the daemons would hold the lock for as long as they run).
  ( enter_cgroup
    exec unshare --mount --uts --cgroup --propagation private bash "$SELF" in-namespace
  ) </dev/null >&2 9>&-
  wait_for 60 "the second libvirt host to answer on $URI" settled
  answers >/dev/null 2>&1 \
    || die "the second host's libvirtd exited: $(tail -n 3 "$HOST_DIR/log/libvirtd.log")"
  log "second host: up in $(awk "BEGIN { printf \"%.2f\", $EPOCHREALTIME - $began }") s"
  echo "$URI"
}

stop() {
  local name pid pids=()
  if answers >/dev/null 2>&1; then
    # Its QEMUs would outlive libvirtd (and keep the namespace alive).
    for name in $(virsh -c "$URI" list --name); do
      log "second host: destroying $name"
      virsh -c "$URI" destroy "$name" >/dev/null
    done
  fi
  for name in libvirtd virtlogd; do
    if running "$name" "$HOST_DIR/run/$name.pid"; then
      pid=$(cat "$HOST_DIR/run/$name.pid")
      log "second host: stopping $name ($pid)"
      kill "$pid"
      pids+=("$pid")
    fi
  done
  (( ${#pids[@]} == 0 )) || wait_for 30 "the second host's daemons to exit" gone "${pids[@]}"
  # Anything left in its cgroup (a QEMU its daemon had lost) holds the namespace: end it.
  mapfile -t pids < <(host_pids)
  if (( ${#pids[@]} )); then
    log "second host: killing what is left in its cgroup: ${pids[*]}"
    kill -KILL "${pids[@]}" 2>/dev/null || true
    wait_for 30 "the second host's processes to exit" gone "${pids[@]}"
  fi
}

remove() {
  stop
  log "second host: removing $HOST_DIR"
  rm -rf "$HOST_DIR"
  # Its cgroups, deepest first (libvirt's /machine/... under them).
  local dir
  for dir in $(host_cgroups); do
    if [[ -d $dir ]]; then find "$dir" -depth -type d -exec rmdir {} +; fi
  done
}

case "${1:-}" in
  uri) echo "$URI"; exit 0 ;;
  main-uri) echo "$MAIN_URI"; exit 0 ;;
  in-namespace) in_namespace; exit 0 ;;
  start|stop|remove) ;;
  *) die "usage: second-host.sh start|uri|main-uri|stop|remove" ;;
esac
[[ $(id -u) == 0 ]] || die "the second libvirt host runs as root"
# One at a time: two tests starting it at once would each stop the other's half-started daemons.
exec 9> "/run/lock/$CGROUP_NAME.lock"
flock 9
"$1"
