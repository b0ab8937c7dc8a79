"""Where the runtime publishes: outbox rows (a page at a time, pipelined) and dead letters."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer, ConsumerRecord
from faststream.kafka import KafkaBroker
from loket_contracts.topics import dlq
from sqlalchemy import Engine, Row, Select, bindparam, select, update

from loket_messaging import metrics
from loket_messaging.db import unit_of_work
from loket_messaging.failures import UNPUBLISHABLE, describe
from loket_messaging.outbox import OUTBOX, utcnow

log = logging.getLogger("loket.messaging")
Headers = list[tuple[str, bytes]]


class Sender(Protocol):
    async def enqueue(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Headers
    ) -> Awaitable[Any]:
        """Hand a record to the client; what it returns completes once the broker has it."""
        ...

    async def send(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Headers
    ) -> None: ...


class ProducerSender:
    """The real thing: an aiokafka producer, acks=all, no linger."""

    def __init__(self, producer: AIOKafkaProducer) -> None:
        self.producer = producer

    async def enqueue(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Headers
    ) -> Awaitable[Any]:
        return await self.producer.send(topic, value=value, key=key, headers=headers)

    async def send(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Headers
    ) -> None:
        await self.producer.send_and_wait(topic, value=value, key=key, headers=headers)


def acknowledged() -> Awaitable[None]:
    """An acknowledgement that has come already (a sender whose send is its acknowledgement)."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    done.set_result(None)
    return done


class BrokerSender:
    """Publishes through the FastStream broker: with TestKafkaBroker it stays in memory."""

    def __init__(self, broker: KafkaBroker) -> None:
        self.broker = broker

    async def enqueue(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Headers
    ) -> Awaitable[Any]:
        await self.send(topic, value, key, headers)
        return acknowledged()

    async def send(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Headers
    ) -> None:
        await self.broker.publish(
            value, topic, key=key, headers={k: v.decode() for k, v in headers}
        )


async def publish_pending(engine: Engine, sender: Sender, limit: int = 200) -> int:
    """Publish staged rows in order: all of a page handed to the producer at once (it keeps
    one request in flight per partition, so order holds, and rows that leave together share a
    request), then those acknowledged marked published together. A row the broker can never take
    (too large, bad topic) is marked failed with the reason and skipped: one bad row must not
    stop every event behind it. A broker that is away ends the pass: the rows from the first
    that failed on are left for the next pass (some may go twice; inboxes drop copies)."""
    with unit_of_work(engine) as session:
        rows = session.execute(_pending(limit)).all()
        broken: Exception | None = None
        handed: list[tuple[Row[Any], Awaitable[Any]]] = []
        failed: dict[int, str] = {}
        for row in rows:
            try:
                headers = [(k, v.encode()) for k, v in json.loads(row.headers_json)]
                key = row.key.encode() if row.key else None
                handed.append((row, await sender.enqueue(row.topic, row.body, key, headers)))
            except UNPUBLISHABLE as exc:
                failed[row.id] = _unpublishable(row, exc)
            except Exception as exc:
                broken = exc
                break
        refused: Exception | None = None  # rows after the first the broker did not take
        published: list[int] = []
        for row, ack in handed:  # all handed before any enqueue failure: in order
            try:
                await ack
            except UNPUBLISHABLE as exc:
                failed[row.id] = _unpublishable(row, exc)
                continue
            except Exception as exc:
                refused = refused or exc
            if refused is None:
                published.append(row.id)
        # One UPDATE for the page, not one per row (Core: the rows were never ORM objects).
        now = utcnow()
        if published:
            session.execute(_MARK_PUBLISHED, {"ids": published, "now": now})
        for row_id, reason in failed.items():
            session.execute(_MARK_FAILED, {"row_id": row_id, "now": now, "reason": reason})
        broken = refused or broken
        if broken is not None:
            session.commit()  # keep what went out; the rest waits for the broker
            raise broken
        return len(rows)


_OUTBOX = OUTBOX.c
_MARK_PUBLISHED = (
    update(OUTBOX)
    .where(_OUTBOX.id.in_(bindparam("ids", expanding=True)))
    .values(published_at=bindparam("now"))
)
_MARK_FAILED = (
    update(OUTBOX)
    .where(_OUTBOX.id == bindparam("row_id"))
    .values(failed_at=bindparam("now"), failure_reason=bindparam("reason"))
)


@functools.cache
def _pending(limit: int) -> Select[Any]:
    """The oldest staged rows no one published or gave up on, locked (PostgreSQL) so that
    two replicas' relays take different rows."""
    return (
        select(_OUTBOX.id, _OUTBOX.topic, _OUTBOX.key, _OUTBOX.headers_json, _OUTBOX.body)
        .where(_OUTBOX.published_at.is_(None), _OUTBOX.failed_at.is_(None))
        .order_by(_OUTBOX.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def _unpublishable(row: Row[Any], exc: BaseException) -> str:
    """Why a row can never be published (logged): it is marked failed and skipped."""
    log.error("outbox row %s (%s) cannot be published: %s", row.id, row.topic, exc)
    return describe(exc)


async def dead_letter(
    sender: Sender, record: ConsumerRecord[Any, Any], reason: str, group_id: str
) -> None:
    """Park `record` on `<topic>.dlq` with the reason and where it came from; nothing is lost."""
    log.warning(
        "dead-lettering %s[%s]@%s: %s", record.topic, record.partition, record.offset, reason
    )
    headers = [
        *(record.headers or ()),
        ("dlq_reason", reason.encode()),
        ("dlq_source_topic", record.topic.encode()),
        ("dlq_source_partition", str(record.partition).encode()),
        ("dlq_source_offset", str(record.offset).encode()),
        ("dlq_consumer_group", group_id.encode()),
        ("dlq_time", datetime.now(UTC).isoformat().encode()),
    ]
    await sender.send(dlq(record.topic), record.value, record.key, headers)
    metrics.DLQ_RECORDS.add(1, {"messaging.destination.name": record.topic, "group": group_id})
