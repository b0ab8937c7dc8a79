#!/usr/bin/env bash
# The test run behind `make test`: unit, integration, e2e and (when infra/scripts/container-lane.sh
# built its images) the container tests, in one pytest session.
set -uo pipefail
export LOKET_TEST_PG="${LOKET_TEST_PG:-$(cat .loket/test-postgres.url 2>/dev/null || true)}"
if [ -f .loket/container-lane ]; then export LOKET_CONTAINER_LANE=1; fi
exec .venv/bin/python -m pytest "$@"
