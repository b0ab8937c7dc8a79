"""Two services on one PostgreSQL database, each applying a batch that locks the same two rows
in the other order: PostgreSQL breaks the deadlock by failing one statement. That batch is split
where it failed, the failed record is retried alone (a deadlock is a transient failure, not the
record's fault), and every record is applied once: nothing lost, nothing doubled, nothing on a
dead-letter topic."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from loket_contracts.envelope import CloudEvent, make_event
from loket_contracts.topics import dlq
from loket_infra.kafka_tools import create_topics, partitions, wait_caught_up
from loket_messaging import Outgoing, ServiceRuntime
from loket_messaging.db import make_engine
from loket_messaging.failures import RetryPolicy
from pydantic import BaseModel
from sqlalchemy import text
from sqlmodel import Session

from tests.integration.postgres import throwaway_database
from tests.settings import local_settings

PATIENCE_S = 120  # PostgreSQL finds a deadlock after `deadlock_timeout` (1 s); a loaded CI is slow


class Bump(BaseModel):
    row: str


@pytest.fixture
def database() -> Iterator[str]:
    with throwaway_database("loket_deadlock") as url:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE counters (name text PRIMARY KEY, n int NOT NULL)"))
            conn.execute(text("INSERT INTO counters VALUES ('a', 0), ('b', 0)"))
        engine.dispose()
        yield url


async def test_a_deadlock_between_two_batches_loses_and_doubles_nothing(
    database: str, tmp_path: Path, kafka_bootstrap: str
) -> None:
    tag = uuid.uuid4().hex[:6]
    orders = {f"test.bump-ab.{tag}.v1": ("a", "b"), f"test.bump-ba.{tag}.v1": ("b", "a")}
    await create_topics(kafka_bootstrap, [t for topic in orders for t in (topic, dlq(topic))])
    for topic, rows in orders.items():  # waiting before the services start: one batch each
        await produce(kafka_bootstrap, topic, rows)

    both_hold_one = threading.Barrier(2, timeout=PATIENCE_S)
    calls: dict[str, int] = {}

    def bump(session: Session, event: CloudEvent) -> Sequence[Outgoing]:
        calls[event.id] = calls.get(event.id, 0) + 1  # every try, the failing one too
        row = event.decode(Bump).row
        session.execute(text("UPDATE counters SET n = n + 1 WHERE name = :row"), {"row": row})
        first = (event.correlation_id or "").endswith("-0")
        if first and calls[event.id] == 1:  # each batch holds its first row before going on
            both_hold_one.wait()
        return []

    runtimes = []
    for topic in orders:
        settings = local_settings(tmp_path, bootstrap=kafka_bootstrap)
        runtime = ServiceRuntime(dataclasses.replace(settings, database_url=database))
        runtime.retry = RetryPolicy(
            transient_budget_s=PATIENCE_S, unexpected_attempts=3, first_delay_s=0.01
        )
        runtime.handle(topic, "test.bump.v1", bump)
        runtimes.append(runtime)

    async with runtimes[0].running(), runtimes[1].running():
        for runtime, topic in zip(runtimes, orders, strict=True):
            await wait_caught_up(kafka_bootstrap, runtime.group_id, topic, PATIENCE_S)

    engine = make_engine(database)
    with engine.connect() as conn:
        counters = {name: n for name, n in conn.execute(text("SELECT name, n FROM counters"))}
    engine.dispose()
    assert counters == {"a": 2, "b": 2}  # four records, each applied once
    # The loser ran its first record twice (its batch rolled back) and its second twice (the
    # deadlock, then alone); the winner each once. No deadlock, no test: 4 calls only.
    assert sorted(calls.values()) == [1, 1, 2, 2], calls
    for topic in orders:
        assert await count(kafka_bootstrap, dlq(topic)) == 0


async def produce(bootstrap: str, topic: str, rows: Sequence[str]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    try:
        for i, row in enumerate(rows):
            event = make_event(
                source="test",
                type_="test.bump.v1",
                body=Bump(row=row),
                correlation_id=f"{topic}-{i}",
            )
            await producer.send_and_wait(
                topic, value=event.data, key=b"k", partition=0, headers=event.kafka_headers()
            )
    finally:
        await producer.stop()


async def count(bootstrap: str, topic: str) -> int:
    parts = await partitions(bootstrap, topic)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return sum((await consumer.end_offsets(parts)).values())
    finally:
        await consumer.stop()
