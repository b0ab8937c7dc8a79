"""Kafka offsets committed after the work is durable, several records to one commit.

A record's offset is marked once its work is committed to the database (or the record is
parked on the dead-letter topic). A committer task commits what is marked: at once when the
consumer is quiet, and at most every `LOKET_OFFSET_COMMIT_INTERVAL_S` under load. A burst of
records then costs one OffsetCommit instead of one each, and no record waits for a commit round
trip before the next one is handled. A crash between the work and the commit redelivers the
record and the inbox drops it: at least once, made idempotent, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition

log = logging.getLogger("loket.messaging")
COMMIT_INTERVAL_S = float(os.environ.get("LOKET_OFFSET_COMMIT_INTERVAL_S", 0.2))


class DurableOffsets(ConsumerRebalanceListener):
    """The consumer's rebalance listener and its committer."""

    def __init__(self, interval_s: float = COMMIT_INTERVAL_S) -> None:
        self.assigned = asyncio.Event()  # readiness: the group gave us partitions
        self.interval_s = interval_s
        self._consumer: AIOKafkaConsumer | None = None
        self._done: dict[TopicPartition, int] = {}
        self._wake = asyncio.Event()
        self.commits = 0  # how many OffsetCommit requests went out (tests and benches)

    async def on_partitions_revoked(self, revoked: Collection[TopicPartition]) -> None:
        await self.flush(set(revoked))  # what we finished stays finished for the next owner

    async def on_partitions_assigned(self, assigned: Collection[TopicPartition]) -> None:
        self.assigned.set()

    async def around(self, msg: Any, work: Callable[[], Awaitable[None]]) -> None:
        """Do a record's work; mark its offset when the work is done. If the work raised, the
        consumer goes back to the record (nothing after it may be committed past it)."""
        await self.around_batch((msg.raw_message,), getattr(msg, "consumer", None), work)

    async def around_batch(
        self, records: Sequence[Any], consumer: Any, work: Callable[[], Awaitable[None]]
    ) -> None:
        """The same for records fetched together (in order within each partition): all marked
        once the work is done, or each partition taken back to its first one if it raised
        (whatever was committed before comes again and the inbox drops it)."""
        real = consumer if isinstance(consumer, AIOKafkaConsumer) else None  # not in-memory
        try:
            await work()
        except BaseException:
            if real is not None:
                first: dict[TopicPartition, int] = {}
                for record in records:
                    first.setdefault(TopicPartition(record.topic, record.partition), record.offset)
                for partition, offset in first.items():
                    with contextlib.suppress(Exception):  # a partition already taken away
                        real.seek(partition, offset)
            raise
        if real is not None and records:
            self._consumer = real
            for record in records:  # in order within a partition: its last one stays
                self._done[TopicPartition(record.topic, record.partition)] = record.offset + 1
            self._wake.set()

    async def run(self) -> None:
        """The committer: wakes on the first record done, commits, then lets the records of
        the next interval gather into the next commit."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self.flush()
            except Exception:  # the committer must not die; uncommitted records come again
                log.exception("offset commit failed")
            await asyncio.sleep(self.interval_s)

    async def flush(self, only: set[TopicPartition] | None = None) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        ours = consumer.assignment()
        taken = {tp: n for tp, n in self._done.items() if only is None or tp in only}
        for tp in taken:
            del self._done[tp]
        taken = {tp: n for tp, n in taken.items() if tp in ours}  # moved away: theirs now
        if not taken:
            return
        try:
            await consumer.commit(taken)
            self.commits += 1
        except Exception as exc:
            # The broker is away or the group is rebalancing: keep what is not newer for the
            # next commit (the next record done, or the revocation). No loop of our own: a
            # record not committed comes again and the inbox drops it.
            log.warning("offset commit failed (%s); kept for the next one", exc)
            for tp, offset in taken.items():
                self._done[tp] = max(offset, self._done.get(tp, -1))
