#!/usr/bin/env bash
# Make a local PostgreSQL available on 127.0.0.1:5432 for the tests: install it when it is
# missing (Debian, as root), start it when it is down, give the postgres role a password.
# Prints the URL tests use to .loket/test-postgres.url. Idempotent.
set -euo pipefail
PASSWORD=${LOKET_TEST_PG_PASSWORD:-loket}
mkdir -p .loket

if ! command -v pg_lsclusters >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "ensure-postgres: installing PostgreSQL (apt-get)"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  else
    echo "ensure-postgres: PostgreSQL is not installed and cannot be installed here" >&2
    exit 1
  fi
fi

read -r version cluster port status _ < <(pg_lsclusters --no-header | head -n 1) || true
if [ -z "${version:-}" ]; then
  version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
  pg_createcluster "$version" main >/dev/null
  read -r version cluster port status _ < <(pg_lsclusters --no-header | head -n 1)
fi
if [ "$status" != "online" ]; then
  echo "ensure-postgres: starting cluster $version/$cluster on port $port"
  pg_ctlcluster "$version" "$cluster" start
fi
for _ in $(seq 1 100); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 0.1
done
su postgres -c "psql -q -p $port -c \"ALTER USER postgres PASSWORD '$PASSWORD'\"" >/dev/null
echo "postgresql://postgres:$PASSWORD@127.0.0.1:$port/postgres" > .loket/test-postgres.url
echo "ensure-postgres: PostgreSQL $version ready on 127.0.0.1:$port"
