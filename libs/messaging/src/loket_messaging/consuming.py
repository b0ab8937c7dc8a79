"""How records come in and are applied: in batches, one transaction per batch.

A service handles what one fetch brought in one transaction (runtime.py decides when), so a
burst costs a commit per batch instead of one per record. FastStream's batch subscriber sleeps
for the whole poll timeout after a poll that found nothing; a record arriving then waits for the
sleep to end (up to the fetch wait, 2 s on Apache Kafka) before it is even looked at. Ours polls
again at once: the poll itself waits, and returns the moment records arrive.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
from collections.abc import Awaitable, Callable, Sequence
from itertools import chain
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber
from loket_contracts.envelope import CloudEvent
from sqlalchemy import CursorResult, Engine, update
from sqlmodel import Session, col

from loket_messaging import telemetry
from loket_messaging.db import take_after_commit, unit_of_work
from loket_messaging.outbox import OutboxEntry, Outgoing, claim, stage

log = logging.getLogger("loket.messaging")
# Records handled in one transaction at most: a failure redoes at most this many one by one,
# and the write lock (SQLite) is never held for long.
MAX_RECORDS = int(os.environ.get("LOKET_CONSUME_BATCH_MAX", 50))

Handler = Callable[[Session, CloudEvent], Sequence[Outgoing]]


@dataclasses.dataclass(frozen=True)
class Delivery:
    """A record that decoded to an event this service handles."""

    record: ConsumerRecord[Any, Any]
    event: CloudEvent
    handler: Handler


class PromptBatchSubscriber(BatchSubscriber):
    __slots__ = ()

    async def get_msg(self, consumer: AIOKafkaConsumer) -> tuple[ConsumerRecord[Any, Any], ...]:
        fetched = await consumer.getmany(
            timeout_ms=self.batch_timeout_ms, max_records=self.max_records
        )
        return tuple(chain(*fetched.values()))  # empty: the loop polls again at once


def prompt(subscriber: Any) -> PromptBatchSubscriber:
    """The batch subscriber FastStream made, polling without the pause (the subclass adds no
    slots, so the instance can take it as it is)."""
    assert isinstance(subscriber, BatchSubscriber), subscriber
    subscriber.__class__ = PromptBatchSubscriber
    return subscriber  # type: ignore[return-value]


class PartFailed(Exception):
    """One record of those applied together failed: all were rolled back with it."""

    def __init__(self, index: int, cause: Exception) -> None:
        super().__init__(f"record {index}: {cause}")
        self.index, self.cause = index, cause


def apply(
    engine: Engine, deliveries: Sequence[Delivery], traced: bool
) -> tuple[bool, list[Callable[[], None]]]:
    """Apply each event once, in order, all in one transaction: whether something was staged
    for the relay, and the work that waits for the commit. PartFailed names the record whose
    handling failed (flushed after each, so that a constraint fails at its own record); a
    failed commit raises as it is. `traced`: a span per record here (the caller has none)."""
    staged = False
    with unit_of_work(engine) as session:
        for i, d in enumerate(deliveries):
            span = telemetry.consuming(d.record.topic, d.record.headers) if traced else None
            try:
                with span or contextlib.nullcontext():
                    staged = _apply_one(session, d) or staged
                    session.flush()
                # Each record reads the rows afresh, as in a transaction of its own: another
                # replica may have changed them, and a locking read does not refresh objects
                # the session already holds.
                session.expire_all()
            except Exception as exc:
                raise PartFailed(i, exc) from exc
        later = take_after_commit(session)
    return staged, later


def apply_alone(engine: Engine, delivery: Delivery) -> tuple[bool, list[Callable[[], None]]]:
    """One record in its own transaction; its failure raised as it came."""
    try:
        return apply(engine, [delivery], traced=False)
    except PartFailed as failed:
        raise failed.cause from None


def _apply_one(session: Session, delivery: Delivery) -> bool:
    event, topic = delivery.event, delivery.record.topic
    if not claim(session, event.id, event.type, topic):
        # Done before. A sender asking again has not seen our answer (the broker may have
        # lost it): publish what this event caused once more, same event ids.
        result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            update(OutboxEntry)
            .where(col(OutboxEntry.caused_by) == event.id)
            .where(col(OutboxEntry.failed_at).is_(None))
            .values(published_at=None)
        )
        again = result.rowcount
        log.info("duplicate event %s (%s): %d answer(s) sent again", event.id, event.type, again)
        return bool(again)
    outgoing = delivery.handler(session, event)
    for out in outgoing:
        stage(session, out, caused_by=event.id)
    return bool(outgoing)


async def tolerant_parser(record: Any, original: Callable[[Any], Awaitable[Any]]) -> Any:
    """FastStream decodes every header as UTF-8 and drops a record (or a batch) it cannot (a
    CRITICAL log, no DLQ). Parse a copy with readable headers instead, keep the original
    records: the consumer then finds the bad header itself and parks that record with the
    reason."""
    try:
        return await original(record)
    except UnicodeDecodeError:
        batch = isinstance(record, tuple | list)
        copy = tuple(map(_readable, record)) if batch else _readable(record)
        message = await original(copy)
        message.raw_message = record
        return message


def _readable(record: ConsumerRecord[Any, Any]) -> ConsumerRecord[Any, Any]:
    readable = [(k, v.decode("utf-8", "replace").encode()) for k, v in record.headers or ()]
    return dataclasses.replace(record, headers=readable)


def current_message(broker: KafkaBroker) -> KafkaMessage:
    """The message (or batch) being handled, from FastStream's context. A handler parameter
    annotated `KafkaMessage` gives the same, but fast_depends resolves it with a synchronous
    call it hands to a worker thread for every message: about 140 µs of CPU each
    (bench/fastdepends_context.py)."""
    message: KafkaMessage = broker.context.get_local("message")
    return message


async def raw_body(msg: Any) -> Any:
    # Keep the bytes as they came (a list of them for a batch): the envelope decides how to
    # read them.
    return msg.body
