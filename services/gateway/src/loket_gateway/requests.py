"""Request/reply over Kafka: the gateway asks the vouchers service read-only questions.

A query is a CloudEvent on a service's queries topic (`loket.vouchers.queries.v1`,
`loket.allocation.queries.v1`); the answer comes back on its replies topic with
`ce_correlationid` = the query's `ce_id`. Every gateway replica
reads every reply partition without a consumer group (nothing to rebalance, nothing left
behind) and wakes the request waiting for that id.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from loket_contracts.envelope import EnvelopeError, from_kafka, header_map, make_event
from loket_messaging import telemetry
from loket_messaging.kafka import KafkaAccess, consumer_options
from pydantic import BaseModel, ValidationError

ReplyT = TypeVar("ReplyT", bound=BaseModel)


class NoAnswer(TimeoutError):
    pass


class BadAnswer(Exception):
    """A service answered with something that does not match the reply contract."""


class KafkaRequests:
    def __init__(
        self, bootstrap: str, producer: AIOKafkaProducer, reply_topics: Sequence[str]
    ) -> None:
        self.bootstrap, self.producer, self.topics = bootstrap, producer, list(reply_topics)
        self._pending: dict[str, asyncio.Future[tuple[str, bytes]]] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        parts = [
            TopicPartition(topic, p)
            for topic in self.topics
            for p in sorted(await self.producer.partitions_for(topic))
        ]
        options = consumer_options()
        self._consumer = AIOKafkaConsumer(
            **KafkaAccess.from_env(self.bootstrap).client_kwargs(),
            enable_auto_commit=False,
            fetch_max_wait_ms=options["fetch_max_wait_ms"],
            consumer_timeout_ms=options["consumer_timeout_ms"],
        )
        await self._consumer.start()
        self._consumer.assign(parts)
        await self._consumer.seek_to_end(*parts)
        for tp in parts:  # resolve the end positions now: replies from here on are ours
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._read(), name="kafka-replies")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()

    async def _read(self) -> None:
        assert self._consumer is not None
        async for record in self._consumer:
            try:
                event = from_kafka(header_map(record.headers), record.value or b"")
            except EnvelopeError:
                continue  # not an answer of ours; the vouchers service never sends these
            waiter = self._pending.get(event.correlation_id or "")
            if waiter is not None and not waiter.done():
                waiter.set_result((event.type, event.data))

    async def ask(
        self,
        topic: str,
        type_: str,
        body: BaseModel,
        reply_type: str,
        reply_model: type[ReplyT],
        timeout_s: float = 10.0,
    ) -> ReplyT:
        event = make_event(source="loket/gateway", type_=type_, body=body)
        waiter: asyncio.Future[tuple[str, bytes]] = asyncio.get_running_loop().create_future()
        self._pending[event.id] = waiter
        started = time.monotonic()
        try:
            headers = event.kafka_headers()
            telemetry.inject(headers)
            await self.producer.send_and_wait(
                topic, value=event.data, key=event.id.encode(), headers=headers
            )
            got_type, data = await asyncio.wait_for(waiter, timeout_s)
        except TimeoutError:
            raise NoAnswer(
                f"no answer to {type_} within {time.monotonic() - started:.1f}s"
            ) from None
        finally:
            self._pending.pop(event.id, None)
        if got_type != reply_type:
            raise BadAnswer(f"unexpected answer {got_type} to {type_}")
        try:
            return reply_model.model_validate_json(data)
        except ValidationError as exc:
            raise BadAnswer(f"{reply_type} does not match its contract: {exc}") from exc
