"""Operator helpers over the Kafka protocol: create the topics, publish like an external
facility, check lag."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from loket_contracts.capacity import CAPACITY_BODIES
from loket_contracts.envelope import make_event
from loket_contracts.topics import FACILITY_CAPACITY, all_topics_with_dlq
from loket_messaging.facility_keys import signed_headers
from loket_messaging.kafka import KafkaAccess, access
from pydantic import BaseModel

PARTITIONS = 3
TYPE_BY_BODY: dict[type[BaseModel], str] = {m: t for t, m in CAPACITY_BODIES.items()}


async def produce_raw(target: KafkaAccess | str, topic: str, value: bytes = b"{}") -> None:
    """One record as whoever `target` logs in as: raises KafkaError if the broker refuses.
    A loaded machine must not pass for a refusal, so the broker gets a minute to answer."""
    producer = AIOKafkaProducer(**access(target).client_kwargs(), request_timeout_ms=60_000)
    try:
        await producer.start()
        await producer.send_and_wait(topic, value=value, key=b"x")
    finally:
        await producer.stop()


async def publish_capacity(
    target: KafkaAccess | str,
    events: list[BaseModel],
    keys: Callable[[str], bytes] | None = None,
) -> None:
    """Publish facility events the way an external producer does: binary CloudEvents, signed
    with each facility's key (`keys(facility_id)`; unsigned without, which consumers refuse)."""
    producer = AIOKafkaProducer(**access(target).client_kwargs(), acks="all", linger_ms=0)
    await producer.start()
    try:
        for body in events:
            facility_id: str = body.facility_id  # type: ignore[attr-defined]
            event = make_event(
                source=f"facility/{facility_id}",
                type_=TYPE_BY_BODY[type(body)],
                body=body,
                subject=facility_id,
            )
            await producer.send_and_wait(
                FACILITY_CAPACITY,
                value=event.data,
                key=facility_id.encode(),
                headers=signed_headers(keys(facility_id), event) if keys else event.kafka_headers(),
            )
    finally:
        await producer.stop()


async def partitions(target: KafkaAccess | str, topic: str) -> list[TopicPartition]:
    # The producer's partitions_for fetches metadata for just this topic (public API).
    producer = AIOKafkaProducer(**access(target).client_kwargs())
    await producer.start()
    try:
        return [TopicPartition(topic, p) for p in sorted(await producer.partitions_for(topic))]
    finally:
        await producer.stop()


async def end_offsets(target: KafkaAccess | str, topic: str) -> dict[TopicPartition, int]:
    parts = await partitions(target, topic)
    consumer = AIOKafkaConsumer(**access(target).client_kwargs(), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(parts)
        return dict(await consumer.end_offsets(parts))
    finally:
        await consumer.stop()


async def wait_caught_up(
    target: KafkaAccess | str, group: str, topic: str, deadline_s: float = 60
) -> None:
    """Wait until `group` has committed every record now in `topic` (consumer lag zero)."""
    targets = await end_offsets(target, topic)
    # A consumer that never subscribes only reads the group's committed offsets: it does not
    # join the group (the admin client's OffsetFetch version is not understood by tansu).
    probe = AIOKafkaConsumer(
        **access(target).client_kwargs(), group_id=group, enable_auto_commit=False
    )
    await probe.start()
    try:
        end = time.monotonic() + deadline_s
        while True:
            lagging = {}
            for tp, last in targets.items():
                done = await probe.committed(tp)
                if last > 0 and (done is None or done < last):
                    lagging[tp] = (done, last)
            if not lagging:
                return
            if time.monotonic() > end:
                raise TimeoutError(f"{group} still behind on {topic}: {lagging}")
            await asyncio.sleep(0.1)
    finally:
        await probe.stop()


async def create_topics(
    target: KafkaAccess | str, names: list[str] | None = None, deadline_s: float = 120
) -> None:
    """Create the topics (default: every Loket topic and its DLQ); existing ones are fine."""
    wanted = names if names is not None else all_topics_with_dlq()
    end = time.monotonic() + deadline_s
    while True:
        admin = AIOKafkaAdminClient(**access(target).client_kwargs(), request_timeout_ms=5000)
        try:
            await admin.start()
            existing = set(await admin.list_topics())
            missing = [t for t in wanted if t not in existing]
            if missing:
                await admin.create_topics(
                    [NewTopic(t, num_partitions=PARTITIONS, replication_factor=1) for t in missing]
                )
            return
        except Exception:
            if time.monotonic() > end:
                raise
            await asyncio.sleep(0.2)
        finally:
            await admin.close()
