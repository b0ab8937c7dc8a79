"""The container engine: the one already running, or a dockerd of our own for as long as we
need it. Ours uses host networking only (no bridge, no iptables, no forwarding), so it touches
nothing of the host's network; every container listens on 127.0.0.1 by its own config."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from loket_infra.processes import READY_DEADLINE_S, Process, wait_until


def docker_cli() -> str:
    # The client that came with the engine (docker.io): a newer client elsewhere on the PATH
    # may want buildx, which the engine's packaging lacks.
    for path in ("/usr/bin/docker", shutil.which("docker")):
        if path and Path(path).is_file():
            return path
    raise RuntimeError("no docker client: infra/scripts/ensure-docker.sh installs docker.io")


def docker(
    *args: str, check: bool = True, stdin: IO[bytes] | None = None
) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"DOCKER_BUILDKIT": "0"}
    result = subprocess.run(
        [docker_cli(), *args], stdin=stdin, capture_output=True, text=True, env=env
    )
    if check and result.returncode != 0:
        raise RuntimeError(f"docker {' '.join(args[:3])}… failed:\n{result.stderr.strip()}")
    return result


def engine_answers() -> bool:
    try:
        return docker("info", check=False).returncode == 0
    except (RuntimeError, OSError):
        return False


def can_start_engine() -> bool:
    return engine_answers() or (shutil.which("dockerd") is not None and os.geteuid() == 0)


@contextlib.contextmanager
def engine(state_dir: Path) -> Iterator[None]:
    """Yield with an engine answering; stop it afterwards only if we started it."""
    if engine_answers():
        yield
        return
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise RuntimeError("no container engine: infra/scripts/ensure-docker.sh installs one")
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / "dockerd.log"
    proc = Process(
        "dockerd",
        [
            dockerd,
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-forward=false",
            "--ip-masq=false",
        ],
        log,
    )
    proc.start()
    try:
        wait_until("dockerd", engine_answers, READY_DEADLINE_S, proc.alive, log)
        yield
    finally:
        proc.stop(grace_s=60)
