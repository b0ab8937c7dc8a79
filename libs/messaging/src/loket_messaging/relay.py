"""The outbox relay: publishes what handlers and requests committed to the outbox, in order.

Woken right after a commit that staged something; otherwise it passes every
RELAY_SAFETY_NET_S to catch rows a crashed replica committed and never published."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os

from sqlalchemy import Engine, func, select
from sqlmodel import Session, col

from loket_messaging import metrics
from loket_messaging.clock import as_utc
from loket_messaging.failures import describe
from loket_messaging.outbox import OutboxEntry, utcnow
from loket_messaging.senders import Sender, publish_pending

log = logging.getLogger("loket.messaging")
RELAY_SAFETY_NET_S = float(os.environ.get("LOKET_RELAY_SAFETY_NET_S", 10))
PAGE = 200  # rows per pass


class OutboxRelay:
    def __init__(self, engine: Engine, service: str) -> None:
        self.engine = engine
        self.service = service
        self.sender: Sender | None = None  # set once the producer has started; DLQ uses it too
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Something was committed to the outbox: publish it now. Call from the event loop."""
        self._wake.set()

    async def flush(self, limit: int = PAGE) -> int:
        assert self.sender is not None, "the relay has no sender yet"
        return await publish_pending(self.engine, self.sender, limit)

    async def run(self, limit: int = PAGE) -> None:
        pause = 0.2
        while True:
            # Cleared before the pass: a commit during it wakes the next one, and a pass that
            # found less than a full page needs no empty pass after it to know it is done.
            self._wake.clear()
            try:
                sent = await self.flush(limit)
            except Exception as exc:
                log.warning("outbox relay paused (%s); retrying in %.1fs", describe(exc), pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 10.0)
                continue
            pause = 0.2
            if sent < limit:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=RELAY_SAFETY_NET_S)

    def oldest_age(self, session: Session) -> metrics.Reading:
        """Age of the oldest row committed and not yet published (a metric)."""
        oldest = session.scalar(
            select(func.min(OutboxEntry.created_at))
            .where(col(OutboxEntry.published_at).is_(None))
            .where(col(OutboxEntry.failed_at).is_(None))
        )
        age = (utcnow() - as_utc(oldest)).total_seconds() if oldest is not None else 0.0
        return [(max(0.0, age), {"service": self.service})]
