"""A partition's next record is not held behind a parked fetch of the other partitions
(loket_messaging.prefetch), on a real broker with a long fetch wait."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from loket_infra.kafka_tools import create_topics, partitions
from loket_messaging.kafka import consumer_options

PARK_MS = 20_000  # long enough that a record held behind a parked fetch cannot be missed
HANDLING_S = 0.5  # the handler's work on the first record, longer than aiokafka's 0.1 s


async def test_the_next_record_of_a_partition_does_not_wait_for_a_parked_fetch(
    kafka_bootstrap: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    topic = f"test.prefetch.{uuid.uuid4().hex[:8]}"
    await create_topics(kafka_bootstrap, [topic])
    first, *others = await partitions(kafka_bootstrap, topic)
    assert others, "the topic needs partitions besides the one written"
    monkeypatch.setenv("LOKET_KAFKA_FETCH_MAX_WAIT_MS", str(PARK_MS))
    options = consumer_options()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=kafka_bootstrap,
        enable_auto_commit=False,
        fetch_max_wait_ms=options["fetch_max_wait_ms"],
        consumer_timeout_ms=options["consumer_timeout_ms"],
    )
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    await consumer.start()
    try:
        consumer.assign([first, *others])
        await consumer.seek_to_beginning()
        await producer.send_and_wait(topic, b"one", partition=first.partition)
        assert (await consumer.getone()).value == b"one"
        # The handler works on it; meanwhile the next record arrives on the same partition.
        await asyncio.sleep(HANDLING_S)
        await producer.send_and_wait(topic, b"two", partition=first.partition)
        asked = time.monotonic()
        second = await asyncio.wait_for(consumer.getone(), PARK_MS / 1000 * 2)
        waited = time.monotonic() - asked
    finally:
        await consumer.stop()
        await producer.stop()
    assert second.value == b"two"
    # Held behind a fetch of the other partitions, it would come when that fetch returns
    # empty: after the whole park.
    assert waited < PARK_MS / 1000 / 2, f"the next record waited {waited:.1f} s"
