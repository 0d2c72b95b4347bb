#!/usr/bin/env bash
# This checkout's state directory: what users postgres and libvirt-qemu must reach (the
# PostgreSQL cluster, the data dir, e2e data, the test guest), kept outside the checkout in
# /var/lib/limen-dev/<checkout name>-<hash of its absolute path> and linked from .limen/state.
#   scripts/state.sh            prints it (making it and the link if missing)
#   scripts/state.sh list       every checkout's state dir on this machine, and its checkout
#   scripts/state.sh remove [DIR]
#                               stops the PostgreSQL cluster of this checkout's state dir (or of
#                               DIR, one listed by `list`) and deletes that dir with everything
#                               in it: the database and the VM disks of `make run`
source "$(dirname "$0")/lib.sh"

case "${1:-path}" in
  path)
    prepare_state_dir
    echo "$STATE_DIR"
    ;;
  list)
    for dir in "$STATE_BASE"/*/; do
      [[ -d "$dir" ]] || continue
      dir=${dir%/} checkout=$(cat "$dir/checkout" 2>/dev/null || echo "?")
      [[ -d "$checkout" ]] || checkout="$checkout (gone)"
      printf '%s\t%s\n' "$dir" "$checkout"
    done
    ;;
  remove)
    dir=${2:-$STATE_DIR}
    [[ "$(dirname "$dir")" == "$STATE_BASE" && "$(basename "$dir")" != .* ]] \
      || die "not a state dir: $dir (they are in $STATE_BASE)"
    [[ -d "$dir" ]] || { log "state: $dir does not exist"; exit 0; }
    # The second libvirt host of the tests runs from this directory: stopped first.
    if [[ "$dir" == "$STATE_DIR" && -d "$dir/second-host" ]]; then
      bash "$ROOT/scripts/second-host.sh" remove
    fi
    pg_ctl=("$(pg_bin)/pg_ctl" -D "$dir/pg/data")
    cd /   # postgres may not be allowed into the caller's directory
    if [[ -f "$dir/pg/data/PG_VERSION" ]] && runuser -u postgres -- "${pg_ctl[@]}" status >/dev/null 2>&1; then
      log "state: stopping the PostgreSQL cluster in $dir/pg/data"
      runuser -u postgres -- "${pg_ctl[@]}" -m fast -w stop >/dev/null
    fi
    log "state: removing $dir"
    rm -rf "$dir"
    if [[ "$dir" == "$STATE_DIR" && -L "$LOCAL_DIR/state" ]]; then rm "$LOCAL_DIR/state"; fi
    ;;
  *) die "usage: scripts/state.sh [path|list|remove [DIR]]" ;;
esac
