#!/usr/bin/env bash
# The container lane of `make test`: when a container engine can be started here (root, and
# Debian's docker.io installable), build the images the container tests run on and say so in
# .loket/container-lane; otherwise say why not and let the tests skip. LOKET_CONTAINERS=off
# turns the lane off.
set -euo pipefail
marker=.loket/container-lane
mkdir -p .loket && rm -f "$marker"
if [ "${LOKET_CONTAINERS:-auto}" = off ]; then
  echo "container lane: off (LOKET_CONTAINERS=off)"; exit 0
fi
if ! bash infra/scripts/ensure-docker.sh; then
  echo "container lane: skipped, no container engine can be installed here"; exit 0
fi
if ! .venv/bin/python -c "from loket_infra.docker_engine import can_start_engine as c; raise SystemExit(not c())"; then
  echo "container lane: skipped, a container engine cannot be started here (not root?)"; exit 0
fi
started=$(date +%s)
.venv/bin/python -m loket_infra.images postgres kafka temporal keycloak loket
echo "container lane: images ready in $(( $(date +%s) - started )) s"
touch "$marker"
