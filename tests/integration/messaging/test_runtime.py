"""The messaging runtime's promises, one abstract test case run against FastStream's in-memory
broker and against a real Kafka-protocol broker over sockets.

Promises: a handled event's result is published through the outbox; a redelivered event
(same ce_id) changes nothing; a record that is not a valid CloudEvent goes to `<topic>.dlq`
with the reason while the consumer goes on; (real broker) a failure before the commit is
retried, never lost and never doubled."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
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
from loket_messaging.failures import RetryPolicy
from loket_messaging.outbox import OutboxEntry
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from tests.settings import local_settings

Record = tuple[dict[str, str], bytes]


class Ping(BaseModel):
    n: int


class Blob(BaseModel):
    text: str


# Pings that make the handler fail in one way each.
OVERFLOW, BUG, DATABASE_DOWN, HUGE = -1, -2, -3, -4


class RuntimeContract:
    """Subclasses provide a running runtime plus a way to publish and to read topics."""

    IN = "test.in.v1"
    OUT = "test.out.v1"
    failures_left: int = 0

    def build(self, runtime: ServiceRuntime) -> None:
        # Test-sized retries: the same policy, in milliseconds instead of minutes.
        runtime.retry = RetryPolicy(
            transient_budget_s=2.0, unexpected_attempts=3, first_delay_s=0.01, max_delay_s=0.05
        )
        self.calls: dict[int, int] = {}

        def on_ping(session: Session, event: CloudEvent) -> Sequence[Outgoing]:
            ping = event.decode(Ping)
            self.calls[ping.n] = self.calls.get(ping.n, 0) + 1
            if self.failures_left > 0:  # e.g. the database went away mid-transaction
                self.failures_left -= 1
                raise OperationalError("UPDATE ...", {}, Exception("server closed the connection"))
            if ping.n == OVERFLOW:
                Decimal("1e999999") * Decimal("1e999999")  # an amount no column can hold
            if ping.n == BUG:
                raise KeyError("a bug in the handler")
            if ping.n == DATABASE_DOWN:
                raise OperationalError("SELECT 1", {}, Exception("connection refused"))
            if ping.n == HUGE:
                big = make_event(
                    source="test",
                    type_="test.pong.v1",
                    body=Blob(text="x" * 1_200_000),
                    correlation_id=event.correlation_id,
                )
                return [Outgoing(self.OUT, big)]
            pong = make_event(
                source="test", type_="test.pong.v1", body=ping, correlation_id=event.correlation_id
            )
            return [Outgoing(self.OUT, pong)]

        runtime.handle(self.IN, "test.ping.v1", on_ping)

    async def publish(self, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        raise NotImplementedError

    async def records(self, topic: str) -> list[Record]:
        raise NotImplementedError

    async def ping(self, n: int, event_id: str | None = None) -> CloudEvent:
        event = make_event(
            source="test",
            type_="test.ping.v1",
            body=Ping(n=n),
            correlation_id=f"app-{n}",
            event_id=event_id,
        )
        await self.publish(event.data, event.kafka_headers())
        return event

    async def wait_records(self, topic: str, predicate: object, count: int) -> list[Record]:
        deadline = time.monotonic() + 30
        while True:
            found = [r for r in await self.records(topic) if predicate(r)]  # type: ignore[operator]
            if len(found) >= count:
                return found
            assert time.monotonic() < deadline, f"{len(found)}/{count} records on {topic}"
            await asyncio.sleep(0.05)

    def pongs(self, n: int) -> object:
        return lambda r: r[0].get("ce_correlationid") == f"app-{n}"

    async def test_handled_event_is_published_through_the_outbox(
        self, runtime: ServiceRuntime
    ) -> None:
        await self.ping(1)
        [(headers, body)] = await self.wait_records(self.OUT, self.pongs(1), 1)
        assert headers["ce_type"] == "test.pong.v1" and Ping.model_validate_json(body).n == 1

    async def test_redelivered_event_changes_nothing_and_is_answered_again(
        self, runtime: ServiceRuntime
    ) -> None:
        first = await self.ping(2)
        await self.wait_records(self.OUT, self.pongs(2), 1)
        await self.ping(2, event_id=first.id)  # same ce_id: a redelivery, or a sender asking again
        await self.ping(3)  # a barrier: once its pong is out, the duplicate was consumed
        await self.wait_records(self.OUT, self.pongs(3), 1)
        answers = [
            h["ce_id"]
            for h, _ in await self.records(self.OUT)
            if h.get("ce_correlationid") == "app-2"
        ]
        assert self.calls[2] == 1  # handled once
        assert len(answers) == 2 and len(set(answers)) == 1  # the same answer, sent again

    async def test_poison_goes_to_the_dlq_and_the_consumer_goes_on(
        self, runtime: ServiceRuntime
    ) -> None:
        marker = uuid.uuid4().hex.encode()
        await self.publish(b"{not json " + marker, [])
        bad = make_event(source="test", type_="test.ping.v1", body=Ping(n=0))
        await self.publish(b'{"n": "many", "m": "' + marker + b'"}', bad.kafka_headers())
        await self.ping(4)
        await self.wait_records(self.OUT, self.pongs(4), 1)
        parked = await self.wait_records(dlq(self.IN), lambda r: marker in r[1], 2)
        reasons = sorted(h["dlq_reason"] for h, _ in parked)
        assert "ce_specversion" in reasons[0] or "ce_specversion" in reasons[1]
        assert any("invalid test.ping.v1 body: n:" in r for r in reasons)
        assert all(h["dlq_source_topic"] == self.IN for h, _ in parked)

    async def parked(self, n: int) -> str:
        [(headers, _)] = await self.wait_records(dlq(self.IN), self.pongs(n), 1)
        assert headers["dlq_source_topic"] == self.IN and headers["dlq_consumer_group"]
        return headers["dlq_reason"]

    async def test_a_value_that_overflows_is_parked_at_once(self, runtime: ServiceRuntime) -> None:
        await self.ping(OVERFLOW)
        await self.ping(7)  # the record behind it is applied
        await self.wait_records(self.OUT, self.pongs(7), 1)
        reason = await self.parked(OVERFLOW)
        assert reason.startswith("poison: ") and "Overflow" in reason
        assert self.calls[OVERFLOW] == 1  # no retry: it would overflow again

    async def test_an_unexpected_error_is_retried_a_few_times_then_parked(
        self, runtime: ServiceRuntime
    ) -> None:
        await self.ping(BUG)
        await self.ping(8)
        await self.wait_records(self.OUT, self.pongs(8), 1)
        reason = await self.parked(BUG)
        assert reason.startswith("unexpected: failed 3 times") and "KeyError" in reason
        assert self.calls[BUG] == 3

    async def test_a_database_that_stays_away_parks_the_record_after_the_budget(
        self, runtime: ServiceRuntime
    ) -> None:
        await self.ping(DATABASE_DOWN)
        await self.ping(9)
        await self.wait_records(self.OUT, self.pongs(9), 1)
        reason = await self.parked(DATABASE_DOWN)
        assert reason.startswith("transient: transient failure for 2 s")
        assert self.calls[DATABASE_DOWN] > 3  # retried with backoff all that time

    async def test_a_transient_failure_is_retried_and_applied_once(
        self, runtime: ServiceRuntime
    ) -> None:
        self.failures_left = 2
        await self.ping(5)
        await self.wait_records(self.OUT, self.pongs(5), 1)
        await self.ping(6)  # barrier
        await self.wait_records(self.OUT, self.pongs(6), 1)
        assert self.failures_left == 0 and self.calls[5] == 3
        assert len([r for r in await self.records(self.OUT) if self.pongs(5)(r)]) == 1  # type: ignore[operator]
        assert not [r for r in await self.records(dlq(self.IN)) if self.pongs(5)(r)]  # type: ignore[operator]


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
