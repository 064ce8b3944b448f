#!/usr/bin/env bash
# Install (when missing) and start a throw-away local PostgreSQL server for the slow tests
# (tests/test_postgres.py), create a role and a database, and print on stdout
#     export MTLBENCH_PG_URL='postgresql://mtlbench:mtlbench@127.0.0.1:PORT/mtlbench'
# so that `eval "$(.ci/postgres.sh)"` sets it (.ci/run does). Progress goes to stderr.
# The server listens on 127.0.0.1 only, on port $MTLBENCH_PG_PORT (default 54329, not the system
# default, so it never collides with another server), with its data in $MTLBENCH_PG_DATA.
# Stop it with: runuser -u postgres -- "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/pg_ctl" -D /tmp/mtlbench-pg stop
set -euo pipefail
log() { echo "postgres.sh: $*" >&2; }
PORT="${MTLBENCH_PG_PORT:-54329}"
DATA="${MTLBENCH_PG_DATA:-/tmp/mtlbench-pg}"

if ! ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1; then
  log "installing postgresql (apt-get)"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } >&2
fi
python3 -c "import psycopg2" 2>/dev/null || { log "installing psycopg2-binary (pip)"; python3 -m pip install -q psycopg2-binary >&2; }
BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)"

# initdb and the server refuse to run as root: use the postgres account the package created.
if [ "$(id -u)" = 0 ]; then as_pg() { runuser -u postgres -- "$@"; }; else as_pg() { "$@"; }; fi

if [ ! -f "$DATA/PG_VERSION" ]; then
  log "initialising a cluster in $DATA"
  mkdir -p "$DATA"
  [ "$(id -u)" = 0 ] && chown postgres "$DATA"
  chmod 700 "$DATA"
  as_pg "$BIN/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 >&2
fi
if ! as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  log "starting the server on 127.0.0.1:$PORT"
  as_pg "$BIN/pg_ctl" -D "$DATA" -l "$DATA/server.log" -w -t 60 \
    -o "-p $PORT -k /tmp -c listen_addresses=127.0.0.1 -c max_connections=200" start >&2
fi

psql_pg() { as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -v ON_ERROR_STOP=1 -tAq "$@"; }
if [ "$(psql_pg -c "SELECT 1 FROM pg_roles WHERE rolname = 'mtlbench'")" != 1 ]; then
  psql_pg -c "CREATE ROLE mtlbench LOGIN PASSWORD 'mtlbench' CREATEDB" >&2
fi
if [ "$(psql_pg -c "SELECT 1 FROM pg_database WHERE datname = 'mtlbench'")" != 1 ]; then
  psql_pg -c "CREATE DATABASE mtlbench OWNER mtlbench" >&2
fi
log "ready"
echo "export MTLBENCH_PG_URL='postgresql://mtlbench:mtlbench@127.0.0.1:$PORT/mtlbench'"
