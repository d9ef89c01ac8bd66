#!/usr/bin/env bash
# The platform's database, step by step (idempotent; run by scripts/bootstrap.sh):
#   1. the local secret store: the schema owner's and each service's connection string
#      (passwords generated once; the owner's also in the libpq password file);
#   2. PostgreSQL on 127.0.0.1 under .data/ that takes passwords only (scram-sha-256):
#      initialised so, or moved there from `trust` (laptops set up before);
#   3. the schema (alembic, as the owner), which creates each service's role;
#   4. a login for each service role with its password.
# With DURSOR_DATABASE_URL given, step 2 is yours: the rest runs against your server.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$DURSOR_ROOT"

credentials() { uv run --frozen --no-sync python -m dursor_kit.local_database "$@"; }

write_secrets() {
  mkdir -p "$DURSOR_DATA"
  uv run --frozen --no-sync python -m dursor_kit.local_secrets "$DURSOR_SECRETS_FILE"
}

pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do [ -x "$dir/initdb" ] && { echo "$dir"; return; }; done
  command -v initdb >/dev/null 2>&1 && dirname "$(command -v initdb)" && return
  die "PostgreSQL server binaries (initdb) not found; install Debian's postgresql package"
}

as_pg_owner() {
  # initdb and postgres refuse to run as root.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

init_postgres() {
  local bin="$1" pgdata="$2" pwfile
  log "initialising PostgreSQL in $pgdata (password authentication)"
  mkdir -p "$pgdata"
  [ "$(id -u)" = 0 ] && chown postgres "$pgdata" "$DURSOR_DATA"
  chmod 700 "$pgdata"
  # The owner's password reaches initdb through a file only the server's user reads.
  pwfile="$(umask 077 && mktemp)"
  credentials owner-password "$DURSOR_SECRETS_FILE" >"$pwfile"
  [ "$(id -u)" = 0 ] && chown postgres "$pwfile"
  as_pg_owner "$bin/initdb" -D "$pgdata" -U dursor --auth=scram-sha-256 --pwfile="$pwfile" \
    -E UTF8 >/dev/null || { rm -f "$pwfile"; die "initdb failed"; }
  rm -f "$pwfile"
}

start_postgres() {
  local bin pgdata="$DURSOR_DATA/postgres"
  bin="$(pg_bin)"
  if ! "$bin/pg_isready" -q -h 127.0.0.1 -p "$DURSOR_PG_PORT" -U dursor; then
    [ -f "$pgdata/PG_VERSION" ] || init_postgres "$bin" "$pgdata"
    log "starting PostgreSQL on 127.0.0.1:$DURSOR_PG_PORT"
    as_pg_owner "$bin/pg_ctl" -D "$pgdata" -l "$pgdata/server.log" -w start \
      -o "-c listen_addresses=127.0.0.1 -p $DURSOR_PG_PORT -k $pgdata -c max_connections=300 -c fsync=off" >/dev/null
  fi
  # Ours (not another checkout's server on the same port): a data directory initialised
  # with `trust` before gets the owner's password and scram-sha-256 in pg_hba.conf.
  if [ -f "$pgdata/postmaster.pid" ]; then
    credentials require-passwords "$DURSOR_SECRETS_FILE" "$pgdata"
    as_pg_owner "$bin/pg_ctl" -D "$pgdata" reload >/dev/null
  fi
  "$bin/createdb" -h 127.0.0.1 -p "$DURSOR_PG_PORT" -U dursor dursor 2>/dev/null || true
}

migrate() {
  log "migrating the database schema"
  uv run --frozen --no-sync alembic upgrade head >/dev/null
}

main() {
  write_secrets
  if [ -n "$DURSOR_DATABASE_URL_GIVEN" ]; then
    log "using PostgreSQL at the given DURSOR_DATABASE_URL"
  else
    start_postgres
  fi
  migrate
  credentials enable-logins "$DURSOR_SECRETS_FILE"
}

main "$@"
