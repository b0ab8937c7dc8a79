#!/bin/sh
# PostgreSQL on 127.0.0.1:$POSTGRES_PORT (host networking). The first start on an empty
# volume makes the cluster (password auth only) and the databases; later starts keep them.
set -eu
PORT="${POSTGRES_PORT:-5432}"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
install -d -o postgres -g postgres -m 700 "$PGDATA"
install -d -o postgres -g postgres /var/run/postgresql
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${POSTGRES_PASSWORD:?the superuser password}"
  pwfile=$(mktemp) && chown postgres "$pwfile"
  printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
  as_postgres initdb -D "$PGDATA" -U postgres --encoding=UTF8 --locale=C.UTF-8 --auth=scram-sha-256 --pwfile="$pwfile" >/dev/null
  rm -f "$pwfile"
  # Only the local socket while the databases are made: nobody reaches a half-made cluster.
  as_postgres pg_ctl -D "$PGDATA" -o "-c listen_addresses=''" -w start >/dev/null
  PGPASSWORD="$POSTGRES_PASSWORD" as_postgres psql -q -v ON_ERROR_STOP=1 -U postgres \
    -h /var/run/postgresql -f /usr/local/share/loket/create-databases.sql
  as_postgres pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups \
  postgres -D "$PGDATA" -c listen_addresses=127.0.0.1 -p "$PORT"
