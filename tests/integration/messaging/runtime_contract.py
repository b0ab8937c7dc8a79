"""The messaging runtime's promises as one abstract test case: `test_runtime.py` runs it against
FastStream's in-memory broker and against a real Kafka-protocol broker over sockets.

Promises: a handled event's result is published through the outbox; a redelivered event
(same ce_id) changes nothing; a record that is not a valid CloudEvent goes to `<topic>.dlq`
with the reason while the consumer goes on; (real broker) a failure before the commit is
retried, never lost and never doubled."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Sequence
from decimal import Decimal

from loket_contracts.envelope import CloudEvent, make_event
from loket_contracts.topics import dlq
from loket_messaging import Outgoing, ServiceRuntime
from loket_messaging.failures import RetryPolicy
from pydantic import BaseModel
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

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
