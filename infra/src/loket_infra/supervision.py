"""The stack's supervisor: a child that exited is started again with backoff, the others
keep running; one that keeps dying is given up; one stopped on purpose is left alone."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from loket_infra.processes import Process

MAX_RESTARTS = 10
MAX_BACKOFF_S = 60.0
STABLE_AFTER_S = 120.0


@dataclass
class Restarts:
    """One child's crash record, for the supervisor's backoff."""

    last_start: float
    count: int = 0
    next_at: float = 0.0  # when the pending restart is due; 0: none pending
    given_up: bool = False


class Supervisor:
    def __init__(self) -> None:
        self.restarts: dict[str, Restarts] = {}
        self._maintained: set[str] = set()  # stopped on purpose: not ours to restart

    def supervise(self, processes: Mapping[str, Process], now: float | None = None) -> list[str]:
        """Start again every child that exited, with backoff per child: the others keep
        running. A child that keeps dying is given up after MAX_RESTARTS in a row. Returns
        one line per action, for the operator's log."""
        now = time.monotonic() if now is None else now
        said = []
        for name, proc in processes.items():
            if name in self._maintained:
                continue
            track = self.restarts.setdefault(name, Restarts(last_start=now))
            if proc.alive():
                if track.count and now - track.last_start > STABLE_AFTER_S:
                    track.count = 0  # it has run long enough: forget its past crashes
                continue
            if track.given_up:
                continue
            if track.count >= MAX_RESTARTS:
                track.given_up = True
                said.append(f"{name} exited {track.count} times in a row: given up; see {proc.log}")
                continue
            if track.next_at == 0.0:
                delay = min(2.0**track.count, MAX_BACKOFF_S)
                track.next_at = now + delay
                code = proc.popen.returncode if proc.popen else None
                said.append(f"{name} exited (code {code}); restarting in {delay:.0f}s")
                continue
            if now < track.next_at:
                continue
            proc.start()
            track.count += 1
            track.last_start, track.next_at = now, 0.0
            said.append(f"{name} restarted (restart {track.count})")
        return said

    @contextlib.contextmanager
    def leave_alone(self, name: str) -> Iterator[None]:
        self._maintained.add(name)
        try:
            yield
        finally:
            self._maintained.discard(name)
