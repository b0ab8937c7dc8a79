#!/usr/bin/env bash
# A container engine and the tools the images are built with: Debian's docker.io (dockerd and
# its client), docker-compose (v1) and debootstrap, installed with apt-get when missing (root).
# Idempotent; starts nothing (loket_infra.docker_engine starts an engine when one is needed).
set -euo pipefail
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-docker: ${missing[*]} missing and cannot be installed here" >&2
  exit 1
fi
echo "ensure-docker: installing ${missing[*]} (apt-get)"
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
