"""What a service does beside consuming: periodic jobs, and work that runs after a commit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from sqlalchemy import Engine
from sqlmodel import Session

from loket_messaging.db import unit_of_work
from loket_messaging.outbox import Outgoing, stage

log = logging.getLogger("loket.messaging")

Periodic = Callable[[Session], Sequence[Outgoing]]


class AfterCommit:
    """Jobs that need their transaction committed but must not hold it (rendering a
    document): each runs in a thread, and the consumer goes on with the next record."""

    def __init__(self) -> None:
        self._running: set[asyncio.Task[None]] = set()

    def start(self, jobs: list[Callable[[], None]], what: str) -> None:
        for job in jobs:
            task = asyncio.create_task(self._run(job, what))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def drain(self, timeout_s: float) -> None:
        """At shutdown: a little time to finish (whatever they make can be made again)."""
        if self._running:
            await asyncio.wait(self._running, timeout=timeout_s)

    @staticmethod
    async def _run(job: Callable[[], None], what: str) -> None:
        try:
            await asyncio.to_thread(job)
        except Exception:
            log.exception("after-commit work of %s failed (it can be made again)", what)


async def run_every(
    engine: Engine, seconds: float, job: Periodic, staged: Callable[[], None]
) -> None:
    """`job` in its own transaction every `seconds`, its events through the outbox;
    `staged` is called when it staged any. A failing run is logged and the next one comes."""
    while True:
        await asyncio.sleep(seconds)
        try:
            count = await asyncio.to_thread(_run_once, engine, job)
        except Exception:
            log.exception("periodic job %s failed", getattr(job, "__name__", job))
            continue
        if count:
            staged()


def _run_once(engine: Engine, job: Periodic) -> int:
    with unit_of_work(engine) as session:
        outgoing = job(session)
        for out in outgoing:
            stage(session, out)
        return len(outgoing)
