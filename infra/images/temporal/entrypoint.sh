#!/bin/bash
# Schema first (idempotent: create, set up and bring both databases to the newest version),
# then the namespace once the server answers, then wait on the server.
set -euo pipefail
: "${POSTGRES_PASSWORD:?the database password}" "${TEMPORAL_NAMESPACE:=default}"
export POSTGRES_USER=${POSTGRES_USER:-postgres} POSTGRES_PORT=${POSTGRES_PORT:-5432}
export TEMPORAL_PORT=${TEMPORAL_PORT:-7233} TEMPORAL_HTTP_PORT=${TEMPORAL_HTTP_PORT:-7243}
export TEMPORAL_METRICS_PORT=${TEMPORAL_METRICS_PORT:-7244} TEMPORAL_MEMBERSHIP_PORT=${TEMPORAL_MEMBERSHIP_PORT:-6933}
sql() {
  temporal-sql-tool --plugin postgres12 --ep 127.0.0.1 -p "$POSTGRES_PORT" \
    -u "$POSTGRES_USER" --pw "$POSTGRES_PASSWORD" --db "$1" "${@:2}"
}
for db in temporal temporal_visibility; do
  dir=$([ "$db" = temporal ] && echo temporal || echo visibility)
  sql "$db" create-database >/dev/null 2>&1 || true  # exists already: fine
  sql "$db" setup-schema -v 0.0 >/dev/null
  sql "$db" update-schema -d "/etc/temporal/schema/postgresql/v12/$dir/versioned" >/dev/null
done
temporal-server --config-file /etc/temporal/config.yaml --allow-no-auth start &
server=$!
trap 'kill -TERM $server; wait $server' TERM INT
address=127.0.0.1:$TEMPORAL_PORT
for _ in $(seq 1 300); do
  if temporal operator namespace describe -n "$TEMPORAL_NAMESPACE" --address "$address" >/dev/null 2>&1; then
    break
  fi
  temporal operator namespace create -n "$TEMPORAL_NAMESPACE" --retention 30d \
    --address "$address" >/dev/null 2>&1 || sleep 1
done
wait $server
