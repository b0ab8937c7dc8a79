#!/usr/bin/env bash
# The test run behind `make test`: unit, integration and e2e in one pytest session.
set -uo pipefail
export LOKET_TEST_PG="${LOKET_TEST_PG:-$(cat .loket/test-postgres.url 2>/dev/null || true)}"
exec .venv/bin/python -m pytest "$@"
