"""The runtime contract (`runtime_contract.py`) on FastStream's in-memory broker and on a real
Kafka-protocol broker over sockets, with what only a real broker shows: commits, batches, bytes
that are not UTF-8, an event too large to publish."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faststream.kafka import TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from loket_contracts.envelope import CloudEvent, header_map, make_event
from loket_contracts.topics import dlq
from loket_infra.kafka_tools import create_topics, partitions, wait_caught_up
from loket_messaging import Outgoing, ServiceRuntime
from loket_messaging.consuming import raw_body
from loket_messaging.outbox import OutboxEntry
from sqlmodel import Session, col, select

from tests.integration.messaging.runtime_contract import (
    BUG,
    HUGE,
    Ping,
    Record,
    RuntimeContract,
)
from tests.settings import local_settings


class TestInMemoryBroker(RuntimeContract):
    @pytest.fixture
    async def runtime(self, tmp_path: Path) -> AsyncIterator[ServiceRuntime]:
        runtime = ServiceRuntime(local_settings(tmp_path), in_memory=True)
        self.build(runtime)
        self.seen: dict[str, list[Record]] = {self.OUT: [], dlq(self.IN): []}
        for topic in self.seen:

            def collector(topic: str = topic):
                async def collect(body: bytes, msg: KafkaMessage) -> None:
                    self.seen[topic].append((header_map(msg.raw_message.headers), body))  # type: ignore[union-attr]

                return collect

            runtime.broker.subscriber(topic, decoder=raw_body)(collector())
        runtime.subscribe()
        async with TestKafkaBroker(runtime.broker):
            async with runtime.running():
                self.broker = runtime.broker
                yield runtime

    async def publish(self, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        await self.broker.publish(
            value, self.IN, key=b"k", headers={k: v.decode() for k, v in headers}
        )

    async def records(self, topic: str) -> list[Record]:
        return list(self.seen[topic])


class TestRealBroker(RuntimeContract):
    @pytest.fixture
    async def runtime(self, tmp_path: Path, kafka_bootstrap: str) -> AsyncIterator[ServiceRuntime]:
        tag = uuid.uuid4().hex[:6]
        self.IN, self.OUT = f"test.in.{tag}.v1", f"test.out.{tag}.v1"
        await create_topics(kafka_bootstrap, [self.IN, dlq(self.IN), self.OUT])
        self.bootstrap = kafka_bootstrap
        runtime = ServiceRuntime(local_settings(tmp_path, bootstrap=kafka_bootstrap))
        self.build(runtime)
        async with runtime.running():
            yield runtime

    async def publish(self, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=0)
        await producer.start()
        try:
            await producer.send_and_wait(self.IN, value=value, key=b"k", headers=headers)
        finally:
            await producer.stop()

    async def records(self, topic: str) -> list[Record]:
        parts = await partitions(self.bootstrap, topic)
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            ends = await consumer.end_offsets(parts)
            out: list[Record] = []
            while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
                for recs in (await consumer.getmany(timeout_ms=100)).values():
                    out += [(header_map(r.headers), r.value) for r in recs]
            return out
        finally:
            await consumer.stop()

    async def test_a_burst_is_committed_in_a_few_commits_and_to_its_end(
        self, runtime: ServiceRuntime
    ) -> None:
        """Offsets go out after the work and several records to one commit: forty records
        handled, every one committed, in fewer commits than records."""
        burst = range(100, 140)
        await self.produce(burst)
        for n in burst:
            await self.wait_records(self.OUT, self.pongs(n), 1)
        await wait_caught_up(self.bootstrap, runtime.group_id, self.IN)
        assert 1 <= runtime._offsets.commits < len(burst)
        assert all(self.calls[n] == 1 for n in burst)

    async def test_records_waiting_together_are_applied_together_in_their_order(
        self, runtime: ServiceRuntime, tmp_path: Path
    ) -> None:
        """Forty records already waiting when a consumer starts (one partition): applied in a
        few transactions rather than forty, in their order, each once. A bug in one of them
        parks that one after its own three tries; the rest are applied around it."""
        tag = uuid.uuid4().hex[:6]
        self.IN, self.OUT = f"test.in.{tag}.v1", f"test.out.{tag}.v1"
        await create_topics(self.bootstrap, [self.IN, dlq(self.IN), self.OUT])
        burst = [*range(300, 320), BUG, *range(320, 340)]
        await self.produce(burst)
        waiting = ServiceRuntime(local_settings(tmp_path, bootstrap=self.bootstrap))
        self.build(waiting)
        on_ping = waiting._handlers[self.IN]["test.ping.v1"]
        transactions: list[str] = []

        def counted(session: Session, event: CloudEvent) -> Sequence[Outgoing]:
            if "test.transaction" not in session.info:
                session.info["test.transaction"] = uuid.uuid4().hex
                transactions.append(session.info["test.transaction"])
            return on_ping(session, event)

        waiting.handle(self.IN, "test.ping.v1", counted)
        applied = [n for n in burst if n != BUG]
        async with waiting.running():
            for n in applied:
                await self.wait_records(self.OUT, self.pongs(n), 1)
            reason = await self.parked(BUG)
            await wait_caught_up(self.bootstrap, waiting.group_id, self.IN)
        assert reason.startswith("unexpected: failed 3 times")
        assert self.calls[BUG] == 3  # as often as alone: the try in the batch counted
        with Session(waiting.engine) as session:
            rows = session.scalars(select(OutboxEntry).order_by(col(OutboxEntry.id))).all()
        assert [Ping.model_validate_json(r.body).n for r in rows] == applied  # in order, once
        # The bug's batch: those before it again together, it alone (three), the rest.
        assert len(transactions) <= 10, len(transactions)

    async def produce(self, pings: Sequence[int]) -> None:
        """Pings in one go, on one partition (one key)."""
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=0)
        await producer.start()
        try:
            sent = []
            for n in pings:
                event = make_event(
                    source="test", type_="test.ping.v1", body=Ping(n=n), correlation_id=f"app-{n}"
                )
                sent.append(
                    await producer.send(
                        self.IN, value=event.data, key=b"k", headers=event.kafka_headers()
                    )
                )
            await asyncio.gather(*sent)
        finally:
            await producer.stop()

    async def test_a_header_that_is_not_utf8_is_parked_with_the_reason(
        self, runtime: ServiceRuntime
    ) -> None:
        # FastStream alone drops such a record with a CRITICAL log; here it reaches the DLQ.
        event = make_event(
            source="test", type_="test.ping.v1", body=Ping(n=10), correlation_id="app-10"
        )
        headers = [(k, b"\xff\xfe" if k == "ce_source" else v) for k, v in event.kafka_headers()]
        await self.publish(event.data, headers)
        await self.ping(11)
        await self.wait_records(self.OUT, self.pongs(11), 1)
        reason = await self.parked(10)
        assert "header 'ce_source' is not UTF-8" in reason

    async def test_a_body_that_is_not_utf8_is_parked(self, runtime: ServiceRuntime) -> None:
        event = make_event(
            source="test", type_="test.ping.v1", body=Ping(n=12), correlation_id="app-12"
        )
        await self.publish(b"\xff\xfe{", event.kafka_headers())
        await self.ping(13)
        await self.wait_records(self.OUT, self.pongs(13), 1)
        assert "invalid test.ping.v1 body" in await self.parked(12)

    async def test_an_event_too_large_to_publish_does_not_stop_the_relay(
        self, runtime: ServiceRuntime
    ) -> None:
        await self.ping(HUGE)
        await self.ping(14)  # staged after the huge one: still published
        await self.wait_records(self.OUT, self.pongs(14), 1)
        assert not [r for r in await self.records(self.OUT) if self.pongs(HUGE)(r)]  # type: ignore[operator]
        with Session(runtime.engine) as session:
            failed = session.scalars(
                select(OutboxEntry).where(col(OutboxEntry.failed_at).is_not(None))
            ).all()
        assert len(failed) == 1 and "MessageSizeTooLarge" in (failed[0].failure_reason or "")
