#!/usr/bin/env bash
# Debian's Chromium for the console's browser tests (Playwright drives it; it downloads no
# browser of its own). Installed with apt-get when missing (root); elsewhere the browser tests
# skip with the reason.
set -euo pipefail
command -v chromium >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: chromium missing and cannot be installed here: browser tests skip" >&2
  exit 0
fi
echo "ensure-chromium: installing chromium (apt-get)"
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
