"""Child processes with one log folder, readiness deadlines and a clean stop (no orphans)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


class StartupError(RuntimeError):
    pass


# Readiness waits follow the process: they end the moment it is ready, fail the moment it
# exits, and otherwise wait this long, so a loaded machine (load 10+ on 2 cores) is slow,
# not failed.
READY_DEADLINE_S = float(os.environ.get("LOKET_READY_DEADLINE_S", 600))


_handed_out: set[int] = set()


def free_port(span: int = 1) -> int:
    """A free port below Linux's ephemeral range (32768+): a port the kernel hands out for
    outgoing connections could be taken by a client before our server binds it. Never the
    same port twice in one process: one handed out may not be bound yet. `span`: the port and
    the span - 1 after it, all free and all handed out, for a server that binds its
    neighbours too (Temporal's services sit at its port + 1, 2 and 6)."""
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(20000, 32000 - span + 1)
        block = range(port, port + span)
        if _handed_out.intersection(block):
            continue
        _handed_out.update(block)
        if all(_bindable(p) for p in block):
            return port
    raise StartupError(f"no {span} free port(s) together in 20000-32000 on 127.0.0.1")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def wait_until(
    what: str,
    check: Callable[[], bool],
    deadline_s: float,
    alive: Callable[[], bool] | None = None,
    log: Path | None = None,
) -> None:
    """Poll `check` until true; fail with the log's tail if the deadline passes or a
    process dies first."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if check():
            return
        if alive is not None and not alive():
            raise StartupError(f"{what} exited during start-up{_tail(log)}")
        time.sleep(0.05)
    raise StartupError(f"{what} not ready after {deadline_s:.0f}s{_tail(log)}")


def _tail(log: Path | None, lines: int = 30) -> str:
    if log is None or not log.exists():
        return ""
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return f"; last lines of {log}:\n" + "\n".join(text)


def _die_with_parent() -> None:
    """Linux: the child gets SIGTERM if the launcher dies, even by kill -9 (no orphans)."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Process:
    name: str
    argv: Sequence[str]
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        out = self.log.open("ab")
        # Own session: a stop signal reaches the whole process group, never our terminal.
        self.popen = subprocess.Popen(
            list(self.argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **self.env},
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        out.close()

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal(self, sig: int) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)

    def stop(self, grace_s: float = 10.0) -> None:
        if self.popen is None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.popen.wait(timeout=5)
        # Reap anything the child left in its group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signal.SIGKILL)

    def kill(self) -> None:
        """kill -9, as a crash would."""
        self.signal(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(timeout=5)
