#!/usr/bin/env bash
# `make install`: installs Limen on this host (or stages it under DESTDIR for a package).
#   [DESTDIR=/staging/root] [PREFIX=/usr/local] [LIMEN_INSTALL_DATABASE=no] scripts/install.sh
#
#   PREFIX/bin/limen                  the release binary (target/release/limen)
#   PREFIX/share/limen/site/          the dashboard assets (target/site), replaced wholesale
#   PREFIX/share/doc/limen/           README.md, limen.toml.example
#   /etc/limen/limen.toml             0600, from contrib/limen.toml.example; never overwritten
#   /var/lib/limen/{disks,isos,images}  0711: QEMU (libvirt-qemu) may pass through, only root lists
#   /etc/systemd/system/limen.service from contrib/limen.service, ExecStart under PREFIX
#
# Without DESTDIR (and unless LIMEN_INSTALL_DATABASE=no) it also makes the role and database
# `limen` on this host's PostgreSQL and writes their URL into a new limen.toml. Every step checks
# before it acts, so running it again upgrades the binary and assets and keeps everything else.
# Root is needed only without DESTDIR. scripts/uninstall.sh sources this file for the paths.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# set_paths: DESTDIR and PREFIX from the environment, and the installed paths. Those are the
# paths the installed files name, never including DESTDIR (prefix each with it to write).
set_paths() {
  DESTDIR=${DESTDIR:-}
  PREFIX=${PREFIX:-/usr/local}
  [[ $PREFIX == /* ]] || die "PREFIX must be an absolute path (got '$PREFIX')"
  # It ends up in sed replacements and TOML strings: keep it to plain path characters.
  [[ $PREFIX =~ ^[A-Za-z0-9/._+-]+$ ]] || die "PREFIX '$PREFIX' has characters other than A-Z a-z 0-9 / . _ + -"
  PREFIX=${PREFIX%/}
  if [[ -n $DESTDIR ]]; then
    [[ $DESTDIR == /* ]] || DESTDIR="$PWD/$DESTDIR"
    DESTDIR=${DESTDIR%/}
  fi
  BIN=$PREFIX/bin/limen
  SITE=$PREFIX/share/limen/site
  DOC=$PREFIX/share/doc/limen
  ETC=/etc/limen
  CONFIG=$ETC/limen.toml
  DATA=/var/lib/limen
  UNIT=/etc/systemd/system/limen.service
}

require_root_unless_staging() {
  [[ -n $DESTDIR || $(id -u) == 0 ]] \
    || die "$1 changes $PREFIX, /etc and /var/lib: run it as root (or set DESTDIR to stage it)"
}

systemd_running() { [[ -d /run/systemd/system ]]; }

# ---- files ---------------------------------------------------------------------------------

install_binary() {
  local dest=$DESTDIR$BIN
  install -d -m 755 "${dest%/*}"
  if cmp -s target/release/limen "$dest"; then
    log "install: $BIN is up to date"
    return
  fi
  # A new file renamed over the old one: a running limen keeps its binary, nothing sees half a file.
  install -m 755 target/release/limen "$dest.new"
  mv -f "$dest.new" "$dest"
  CHANGED=true
  log "install: $BIN"
}

install_site() {
  local dest=$DESTDIR$SITE
  if [[ -d $dest ]] && diff -r -q target/site "$dest" >/dev/null 2>&1; then
    log "install: $SITE is up to date"
    return
  fi
  # A fresh copy, then swapped in: the old hashed WASM/JS files go with the old copy.
  install -d -m 755 "${dest%/*}"
  rm -rf "$dest.new" "$dest.old"
  cp -R -L target/site "$dest.new"
  chmod -R u=rwX,go=rX "$dest.new"
  if [[ -e $dest ]]; then mv "$dest" "$dest.old"; fi
  mv "$dest.new" "$dest"
  rm -rf "$dest.old"
  CHANGED=true
  log "install: $SITE ($(find "$dest" -type f | wc -l) files)"
}

install_docs() {
  local file
  install -d -m 755 "$DESTDIR$DOC"
  for file in README.md contrib/limen.toml.example; do
    if cmp -s "$file" "$DESTDIR$DOC/${file##*/}"; then
      log "install: $DOC/${file##*/} is up to date"
    else
      install -m 644 "$file" "$DESTDIR$DOC/"
      log "install: $DOC/${file##*/}"
    fi
  done
}

install_data_dir() {
  local dir
  for dir in "$DATA" "$DATA"/{disks,isos,images}; do ensure_dir 711 "$DESTDIR$dir"; done
  log "install: $DATA with disks/ isos/ images/ (0711)"
  [[ -z $DESTDIR ]] || return 0
  if ! id libvirt-qemu >/dev/null 2>&1; then
    log "warning: there is no user libvirt-qemu (is libvirt installed? apt-get install libvirt-daemon-system qemu-system-x86 qemu-utils); QEMU's access to $DATA was not checked"
    return 0
  fi
  # QEMU opens disks by path as libvirt-qemu: every directory on the way needs its search bit.
  local path="" part parts dirs=()
  IFS=/ read -r -a parts <<< "${DATA#/}"
  for part in "${parts[@]}"; do path+=/$part; dirs+=("$path"); done
  for dir in "${dirs[@]}" "$DATA"/{disks,isos,images}; do
    if ! (cd / && runuser -u libvirt-qemu -- test -x "$dir"); then
      log "warning: QEMU (user libvirt-qemu) cannot pass through $dir ($(stat -c %A "$dir")): VMs will fail to start; chmod o+x $dir"
      return 0
    fi
  done
}

# set_key FILE KEY VALUE: sets `KEY = VALUE` (VALUE in TOML syntax) on its uncommented line, or
# appends it if the file has none.
set_key() {
  if grep -q "^$2 = " "$1"; then
    sed -i "s|^$2 = .*|$2 = $3|" "$1"
  else
    printf '%s = %s\n' "$2" "$3" >> "$1"
  fi
}

# install_config: writes /etc/limen/limen.toml unless one exists (an upgrade keeps the user's).
# DATABASE_URL (from setup_database) goes in if set; otherwise the example's placeholder stays.
install_config() {
  local dest=$DESTDIR$CONFIG tmp key
  install -d -m 755 "$DESTDIR$ETC"
  if [[ -e $dest ]]; then
    log "install: kept $CONFIG as it is (your settings; the current example is $DOC/limen.toml.example)"
    return
  fi
  tmp=$(mktemp "$dest.XXXXXX")   # 0600 from the start: it will hold the database password
  {
    printf '# Written by make install from limen.toml.example; a reinstall never overwrites it.\n'
    cat contrib/limen.toml.example
  } > "$tmp"
  set_key "$tmp" listen '"0.0.0.0:18443"'
  set_key "$tmp" tls '"self-signed"'
  set_key "$tmp" data_dir "\"$DATA\""
  set_key "$tmp" site_root "\"$SITE\""
  if [[ -n ${DATABASE_URL:-} ]]; then set_key "$tmp" database_url "\"$DATABASE_URL\""; fi
  for key in listen tls data_dir site_root database_url; do
    [[ $(grep -c "^$key = " "$tmp") == 1 ]] || { rm -f "$tmp"; die "the new limen.toml should set $key once"; }
  done
  chmod 600 "$tmp"
  if [[ $(id -u) == 0 ]]; then chown root:root "$tmp"; fi
  mv -n "$tmp" "$dest"   # -n: never over a file that appeared meanwhile
  if [[ -e $tmp ]]; then rm -f "$tmp"; die "$dest appeared while it was being written; left it alone"; fi
  if [[ -n ${DATABASE_URL:-} ]]; then
    log "install: $CONFIG (0600; with the database URL)"
  else
    log "install: $CONFIG (0600); set database_url in it to your PostgreSQL (the example's is a placeholder)"
  fi
}

# install_unit: the systemd unit from contrib/limen.service, its paths under PREFIX; verified.
install_unit() {
  local dest=$DESTDIR$UNIT tmp
  tmp=$(mktemp)
  {
    printf '# Written by make install (PREFIX=%s); a reinstall rewrites it: put local changes\n' "${PREFIX:-/}"
    printf '# in a drop-in (systemctl edit limen), which it leaves alone.\n'
    sed -e "s|^ExecStart=/usr/local/bin/limen |ExecStart=$BIN |" \
        -e "s|^Documentation=file:///usr/local/share/doc/limen/|Documentation=file://$DOC/|" \
        contrib/limen.service
  } > "$tmp"
  grep -qx "ExecStart=$BIN --config $CONFIG serve" "$tmp" \
    || { rm -f "$tmp"; die "contrib/limen.service: its ExecStart is not the line this script rewrites (ExecStart=/usr/local/bin/limen --config $CONFIG serve)"; }
  if cmp -s "$tmp" "$dest"; then
    log "install: $UNIT is up to date"
    rm -f "$tmp"
  else
    install -D -m 644 "$tmp" "$dest"
    rm -f "$tmp"
    CHANGED=true
    log "install: $UNIT"
  fi
  verify_unit
}

# verify_unit: `systemd-analyze verify` on the installed unit, with its binary in place. Under
# DESTDIR, `--root=DESTDIR` does not work (it wants all of systemd's units there too: "Unit
# sysinit.target not found"), so a copy whose ExecStart names the staged binary is verified
# against this host's units instead. Units in Wants=/After= that this host lacks (libvirtd,
# postgresql) print nothing and do not fail it; a syntax error or a missing binary does.
verify_unit() {
  if ! command -v systemd-analyze >/dev/null; then
    log "install: systemd-analyze not found; the unit was not verified"
    return 0
  fi
  local unit=$DESTDIR$UNIT dir="" out rc=0
  if [[ -n $DESTDIR ]]; then
    dir=$(mktemp -d)
    sed "s|^ExecStart=$BIN |ExecStart=$DESTDIR$BIN |" "$DESTDIR$UNIT" > "$dir/limen.service"
    unit=$dir/limen.service
  fi
  out=$(systemd-analyze verify "$unit" 2>&1) || rc=$?
  if [[ -n $dir ]]; then rm -rf "$dir"; fi
  [[ $rc == 0 ]] || die "systemd-analyze verify $UNIT failed:
$out"
  if [[ -n $out ]]; then
    log "install: systemd-analyze verify $UNIT passed, saying:"
    printf '%s\n' "$out" >&2
  else
    log "install: systemd-analyze verify $UNIT: clean"
  fi
}

# ---- database ------------------------------------------------------------------------------

# Debian's clusters, one a line: VERSION NAME PORT STATUS OWNER DATADIR LOGFILE.
pg_clusters() { pg_lsclusters --no-header 2>/dev/null; }
# psql as the cluster's owner over its unix socket (from /: the caller's directory may be
# closed to that user).
psql_admin() {
  (cd / && PGOPTIONS='-c client_min_messages=warning' runuser -u "$PG_OWNER" -- \
    psql --cluster "$PG_CLUSTER" -d postgres -X -q -t -A -v ON_ERROR_STOP=1 "$@")
}
# start_cluster: starts the chosen cluster (Debian's tools; systemd's unit when systemd runs).
start_cluster() {
  if systemd_running; then
    systemctl start postgresql "postgresql@${PG_CLUSTER/\//-}.service"
  else
    pg_ctlcluster "${PG_CLUSTER%/*}" "${PG_CLUSTER#*/}" start
    log "install: without systemd nothing starts PostgreSQL at boot: pg_ctlcluster ${PG_CLUSTER%/*} ${PG_CLUSTER#*/} start"
  fi
}
new_password() { head -c 24 /dev/urandom | base64 | tr -d '/+=\n'; }

# setup_database: the role `limen` and database `limen` on this host's PostgreSQL; sets
# DATABASE_URL for a new limen.toml. Idempotent: an existing role keeps its password when the
# existing limen.toml uses it; a limen.toml naming another database leaves PostgreSQL alone.
setup_database() {
  DATABASE_URL=""
  if [[ -n $DESTDIR ]]; then
    log "install: DESTDIR set (staging): no database made; limen.toml keeps the example's database_url"
    return 0
  fi
  if [[ ${LIMEN_INSTALL_DATABASE:-yes} == no ]]; then
    log "install: LIMEN_INSTALL_DATABASE=no: no database made; set database_url in $CONFIG"
    return 0
  fi
  local line cluster
  if ! command -v pg_lsclusters >/dev/null || [[ -z $(pg_clusters) ]]; then
    log "warning: no PostgreSQL server on this host. Either install one (apt-get install postgresql: it makes and starts the cluster 'main') and run make install again, which keeps everything and makes the database; or point database_url in $CONFIG at your PostgreSQL server (and use LIMEN_INSTALL_DATABASE=no next time)"
    return 0
  fi
  # The newest version's cluster "main", else the newest cluster.
  line=$(pg_clusters | sort -k1,1Vr | awk '$2 == "main" { print; exit }')
  [[ -n $line ]] || line=$(pg_clusters | sort -k1,1Vr | head -n 1)
  read -r PG_VERSION cluster PG_PORT PG_STATUS PG_OWNER _ <<< "$line"
  PG_CLUSTER=$PG_VERSION/$cluster
  if [[ $PG_STATUS != online* ]]; then
    log "install: starting PostgreSQL cluster $PG_CLUSTER (port $PG_PORT)"
    start_cluster
    wait_for 60 "PostgreSQL $PG_CLUSTER" psql_admin -c 'SELECT 1'
  fi

  # An existing limen.toml: its URL stays, so its password is the one the role must keep.
  local password="" url="" re
  if [[ -f $CONFIG ]]; then
    url=$(sed -n 's/^database_url *= *"\(.*\)"[[:space:]]*$/\1/p' "$CONFIG" | tail -n 1)
    re="^postgres(ql)?://limen:([A-Za-z0-9._~-]+)@(127\.0\.0\.1|localhost)(:([0-9]+))?/limen$"
    if [[ $url =~ $re && ${BASH_REMATCH[5]:-5432} == "$PG_PORT" ]]; then
      password=${BASH_REMATCH[2]}
    else
      log "install: $CONFIG names another database (not limen@127.0.0.1:$PG_PORT/limen); PostgreSQL left alone"
      return 0
    fi
  fi

  if [[ $(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'limen'") == 1 ]]; then
    if [[ -n $password ]]; then
      log "install: role limen exists; kept, with the password $CONFIG uses"
    else
      # No limen.toml uses the old password (there is none), and it is stored nowhere else.
      password=$(new_password)
      psql_admin <<SQL
SET log_statement = 'none';
SET log_min_duration_statement = -1;
ALTER ROLE limen WITH LOGIN PASSWORD '$password';
SQL
      log "install: role limen existed; gave it a new password for the new $CONFIG"
    fi
  else
    [[ -n $password ]] || password=$(new_password)
    psql_admin <<SQL
SET log_statement = 'none';
SET log_min_duration_statement = -1;
CREATE ROLE limen LOGIN PASSWORD '$password';
SQL
    log "install: created role limen on PostgreSQL $PG_CLUSTER"
  fi
  local owner
  owner=$(psql_admin -c "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'limen'")
  if [[ -z $owner ]]; then
    psql_admin -c "CREATE DATABASE limen OWNER limen ENCODING 'UTF8' LC_COLLATE 'C.UTF-8' LC_CTYPE 'C.UTF-8' TEMPLATE template0"
    log "install: created database limen (owner limen)"
  elif [[ $owner != limen ]]; then
    log "warning: database limen exists but belongs to $owner, not limen; Limen's migrations may fail (ALTER DATABASE limen OWNER TO limen)"
  else
    log "install: database limen exists; kept"
  fi
  DATABASE_URL="postgres://limen:$password@127.0.0.1:$PG_PORT/limen"
  # What Limen will do: log in over TCP with the password (not the unix socket's peer login).
  if ! PGPASSWORD=$password PGCONNECT_TIMEOUT=5 psql -X -q -t -A -h 127.0.0.1 -p "$PG_PORT" \
      -U limen -d limen -c 'SELECT 1' >/dev/null 2>&1; then
    log "warning: limen cannot log in at 127.0.0.1:$PG_PORT with the password in $CONFIG. Either the role has another password (runuser -u $PG_OWNER -- psql --cluster $PG_CLUSTER -c '\\password limen', then put it in database_url), or the server does not take it over TCP: check listen_addresses and pg_hba.conf (a 'host all all 127.0.0.1/32 scram-sha-256' line) in /etc/postgresql/$PG_CLUSTER/"
  fi
}

# ---- after ---------------------------------------------------------------------------------

# Prints what the running processes of BIN are (none: nothing).
running_pids() {
  local exe pids=()
  for exe in /proc/[0-9]*/exe; do
    if [[ $(readlink "$exe" 2>/dev/null) == "$1" ]]; then
      exe=${exe#/proc/}
      pids+=("${exe%/exe}")
    fi
  done
  printf '%s' "${pids[*]}"
}

next_steps() {
  local pids url
  if [[ -n $DESTDIR ]]; then
    log "install: staged under $DESTDIR (PREFIX=${PREFIX:-/}); nothing started, no database made"
    return 0
  fi
  url="https://$(hostname):18443"
  if systemd_running; then
    systemctl daemon-reload
    if $CHANGED && systemctl is-active --quiet limen.service; then
      systemctl restart limen.service
      log "install: restarted limen.service (it was running the previous version)"
    fi
    cat >&2 <<EOF
Next:
  systemctl enable --now limen      # start Limen now and at every boot
  journalctl -u limen               # its log: the TLS certificate's fingerprint, the setup token
  $BIN doctor     # checks this host
EOF
  else
    pids=$(running_pids "$BIN")
    if [[ -n $pids ]] && $CHANGED; then
      log "install: $BIN is running (pid $pids) the previous version: restart it"
    fi
    cat >&2 <<EOF
Next: systemd is not running here, so the unit is not used. With libvirtd running
(scripts/libvirt.sh in a checkout, or: virtlogd -d && libvirtd -d), start Limen as root:
  (umask 077 && exec $BIN --config $CONFIG serve)
  $BIN doctor     # checks this host
EOF
  fi
  cat >&2 <<EOF
The first admin: $BIN user add NAME --admin, or open $url/setup and enter
the one-time setup token Limen logs while no admin exists.
The browser warns once about the self-signed certificate: compare the SHA-256 fingerprint it
shows with the one in Limen's log.
EOF
}

main() {
  set_paths
  require_root_unless_staging "make install"
  cd "$ROOT" || exit
  umask 022
  CHANGED=false   # set by each step that replaced something a running Limen uses
  if [[ ! -x target/release/limen || ! -d target/site/pkg ]]; then
    log "install: target/release/limen or target/site is missing: building them first (scripts/build.sh)"
    bash scripts/build.sh
  fi
  install_binary
  install_site
  install_docs
  install_data_dir
  setup_database   # before the config: a new limen.toml gets the URL it makes
  install_config
  install_unit
  next_steps
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then main "$@"; fi
