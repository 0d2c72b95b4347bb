#!/usr/bin/env bash
# Starts Limen's project-private PostgreSQL cluster (own data dir in this checkout's state
# directory, STATE_DIR/pg (see lib.sh), own port; never touches a system cluster) and prints its
# URL. Idempotent: an up cluster is left as it is.
#   scripts/postgres.sh [--fresh] [DBNAME]   → prints postgres://limen:…@127.0.0.1:PORT/DBNAME
#   --fresh drops and recreates DBNAME first.
source "$(dirname "$0")/lib.sh"

FRESH=false
if [[ "${1:-}" == --fresh ]]; then FRESH=true; shift; fi
DB_NAME=${1:-limen}
PG_DIR="$STATE_DIR/pg"
DATA="$PG_DIR/data"
SOCK="$PG_DIR/run"
PG_BIN=$(pg_bin)
[[ -x "$PG_BIN/initdb" ]] || die "PostgreSQL server binaries not found (run scripts/deps.sh)"

# From /: the caller's directory (a checkout under /root, say) may be closed to postgres.
as_postgres() { (cd / && runuser -u postgres -- "$@"); }
psql_admin() { PGOPTIONS='-c client_min_messages=warning' as_postgres "$PG_BIN/psql" -h "$SOCK" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -qtA "$@"; }

prepare_state_dir
ensure_dir 711 "$PG_DIR"
if [[ ! -f "$DATA/PG_VERSION" ]]; then
  log "postgres: creating a private cluster in $DATA"
  if [[ -f "$LOCAL_DIR/pg/data/PG_VERSION" ]]; then
    log "postgres: the cluster in $LOCAL_DIR/pg is no longer used (see the README to remove it)"
  fi
  as_postgres test -x "$PG_DIR" || die "the postgres user cannot reach $PG_DIR"
  install -d -o postgres -g postgres -m 700 "$DATA"
  install -d -o postgres -g postgres -m 755 "$SOCK"
  as_postgres "$PG_BIN/initdb" -D "$DATA" -U postgres --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
  head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$PG_DIR/password"
  chmod 600 "$PG_DIR/password"
fi
install -d -o postgres -g postgres -m 755 "$SOCK"

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# The port is chosen when the cluster starts (first free one from 55432, or LIMEN_PG_PORT) and
# remembered, so another checkout's cluster on this machine never collides with this one.
if as_postgres "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  PG_PORT=$(cat "$PG_DIR/port" 2>/dev/null || echo 55432)
else
  PG_PORT=${LIMEN_PG_PORT:-$(cat "$PG_DIR/port" 2>/dev/null || echo 55432)}
  until port_free "$PG_PORT"; do PG_PORT=$((PG_PORT + 1)); done
  echo "$PG_PORT" > "$PG_DIR/port"
  log "postgres: starting the private cluster on 127.0.0.1:$PG_PORT"
  as_postgres "$PG_BIN/pg_ctl" -D "$DATA" -l "$SOCK/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $SOCK -c max_connections=200" start >/dev/null \
    || die "PostgreSQL did not start; see $SOCK/server.log"
fi

PASSWORD=$(cat "$PG_DIR/password")
if [[ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = 'limen'")" != 1 ]]; then
  psql_admin -c "CREATE ROLE limen LOGIN CREATEDB PASSWORD '$PASSWORD'"
fi
if $FRESH; then
  psql_admin -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)"
fi
if [[ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" != 1 ]]; then
  psql_admin -c "CREATE DATABASE \"$DB_NAME\" OWNER limen"
fi
echo "postgres://limen:$PASSWORD@127.0.0.1:$PG_PORT/$DB_NAME"
