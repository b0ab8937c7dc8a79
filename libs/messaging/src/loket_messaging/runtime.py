"""ServiceRuntime: one FastStream consumer per service, inbox, outbox relay, DLQ.

A handler is a plain function `(session, event) -> [Outgoing]`. The runtime calls it inside one
database transaction together with the inbox insert and the outbox rows, commits, and only then
commits the Kafka offset. Records fetched together share that transaction (consuming.py). Anything
that cannot be decoded or validated goes to `<topic>.dlq` with the reason, and the consumer moves
on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.middlewares import AckPolicy
from loket_contracts.envelope import CloudEvent, EnvelopeError, from_kafka, strict_headers
from sqlalchemy import Engine
from sqlmodel import Session

from loket_messaging import event_loop, metrics, telemetry
from loket_messaging.background import AfterCommit, Periodic, run_every
from loket_messaging.consuming import (
    MAX_RECORDS,
    Delivery,
    Handler,
    PartFailed,
    apply,
    apply_alone,
    current_message,
    prompt,
    raw_body,
    tolerant_parser,
)
from loket_messaging.db import create_schema, make_engine
from loket_messaging.failures import GaveUp, RetryPolicy, attempt
from loket_messaging.handlers import command_of, invoke
from loket_messaging.kafka import KafkaLogin, consumer_options, make_producer
from loket_messaging.migrations import upgrade
from loket_messaging.offsets import DurableOffsets
from loket_messaging.outbox import Outgoing
from loket_messaging.relay import OutboxRelay
from loket_messaging.senders import BrokerSender, ProducerSender, dead_letter
from loket_messaging.serving import serve
from loket_messaging.settings import Settings

log = logging.getLogger("loket.messaging")


def _skip(session: Session, event: CloudEvent) -> Sequence[Outgoing]:
    return []


class ServiceRuntime:
    def __init__(
        self, settings: Settings, *, in_memory: bool = False, migrations: str | None = None
    ) -> None:
        self.settings = settings
        # The package whose Alembic history owns this database; None: create the tables
        # as declared (tests with throwaway databases).
        self.migrations = migrations
        self.in_memory = in_memory
        self.name = settings.service
        self.group_id = f"loket-{settings.service}"
        telemetry.setup(settings.service)  # before the broker and engine: both are traced
        # Per-message "Received/Processed" lines at DEBUG: the DLQ and errors still log loudly.
        login = KafkaLogin.from_env()
        self.broker = KafkaBroker(
            settings.kafka_bootstrap,
            client_id=self.group_id,
            log_level=logging.DEBUG,
            security=login.faststream() if login else None,
            middlewares=telemetry.kafka_middlewares(),
        )
        self.app = FastStream(self.broker)
        self.engine: Engine = make_engine(settings.database_url)
        self._handlers: dict[str, dict[str, Handler]] = {}
        self._checks: dict[str, Callable[[dict[str, str], CloudEvent], None]] = {}
        self._periodic: list[tuple[float, Periodic]] = []
        self._producer: AIOKafkaProducer | None = None
        self._subscribed = False
        self.relay = OutboxRelay(self.engine, self.name)
        self._tasks: list[asyncio.Task[None]] = []
        self._later = AfterCommit()
        self._offsets = DurableOffsets()
        self._startup: list[Callable[[], Awaitable[None]]] = []
        self.retry = RetryPolicy.from_env()
        metrics.observe(
            self.engine,
            "loket.outbox.age",
            "s",
            "Age of the oldest event committed but not yet published",
            self.relay.oldest_age,
        )
        self.app.on_startup(self._on_startup)
        self.app.after_startup(self._after_startup)
        self.app.on_shutdown(self._on_shutdown)

    # ---- registration ---------------------------------------------------------------------

    def handle(self, topic: str, event_type: str, handler: Handler) -> None:
        self._handlers.setdefault(topic, {})[event_type] = handler

    def answer(self, handler: Callable[[Session, Any], Sequence[Outgoing]]) -> None:
        """Handle the registered command `handler` is marked for (`@answers`): its topic and
        type from the registry, its body decoded to the command's model (a body that does not
        validate goes to the dead-letter topic)."""
        command = command_of(handler)
        assert command is not None, f"{handler} is not marked @answers(command)"
        self.handle(command.topic, command.type, lambda s, e: invoke(handler, s, e))

    def verify(self, topic: str, check: Callable[[dict[str, str], CloudEvent], None]) -> None:
        """Check every record of `topic` before its handler (e.g. facility signatures); a
        check that raises EnvelopeError sends the record to the dead-letter topic."""
        self._checks[topic] = check

    def ignore(self, topic: str, event_type: str) -> None:
        """A type on a shared topic that this service has no business with: skip it quietly."""
        self.handle(topic, event_type, _skip)

    def publish_soon(self) -> None:
        """Something was staged outside a handler (an HTTP request's transaction): publish
        it now rather than at the relay's next safety-net pass. Call from the event loop."""
        self.relay.wake()

    def every(self, seconds: float, job: Periodic) -> None:
        self._periodic.append((seconds, job))

    def on_startup(self, hook: Callable[[], Awaitable[None]]) -> None:
        self._startup.append(hook)

    def subscribe(self) -> None:
        """Register the one consumer for every handled topic (once, before the broker starts)."""
        if self._subscribed:
            return
        self._subscribed = True
        topics = list(self._handlers)
        options = consumer_options()
        subscriber = self.broker.subscriber(
            *topics,
            batch=True,
            max_records=MAX_RECORDS,
            # How long an empty poll waits before the next (it returns when records arrive).
            batch_timeout_ms=options["consumer_timeout_ms"],
            group_id=self.group_id,
            ack_policy=AckPolicy.MANUAL,  # DurableOffsets commits, after the work
            decoder=raw_body,
            parser=tolerant_parser,
            listener=self._offsets,
            **options,
        )
        prompt(subscriber)(self._consume)

    # ---- lifecycle ------------------------------------------------------------------------

    async def _on_startup(self) -> None:
        if self.migrations is not None:
            await asyncio.to_thread(upgrade, self.engine, self.migrations)
        else:
            await asyncio.to_thread(create_schema, self.engine)
        if self.in_memory:
            self.relay.sender = BrokerSender(self.broker)
        else:
            self._producer = make_producer(self.settings.kafka_bootstrap, self.group_id)
            await self._producer.start()
            self.relay.sender = ProducerSender(self._producer)
        for hook in self._startup:
            await hook()

    async def _after_startup(self) -> None:
        self._tasks.append(asyncio.create_task(self.relay.run(), name="outbox-relay"))
        for seconds, job in self._periodic:
            periodic = run_every(self.engine, seconds, job, self.relay.wake)
            self._tasks.append(asyncio.create_task(periodic))
        self._tasks.append(asyncio.create_task(self._ready_when_assigned()))
        self._tasks.append(asyncio.create_task(self._offsets.run(), name="offset-committer"))

    async def _ready_when_assigned(self) -> None:
        await self._offsets.assigned.wait()
        self.settings.mark_ready()
        log.info("%s ready: partitions assigned for group %s", self.name, self.group_id)

    async def _on_shutdown(self) -> None:
        with contextlib.suppress(Exception):  # what is not committed comes again: harmless
            await self._offsets.flush()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._later.drain(10)  # documents being made
        if self.relay.sender is not None:
            await self.relay.flush()  # flush what was committed before we stop
        if self._producer is not None:
            await self._producer.stop()
        self.engine.dispose()

    def run(self) -> None:
        telemetry.configure_logging(self.name)
        self.subscribe()
        event_loop.run(serve(self.app, self.name))

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[ServiceRuntime]:
        """Serve inside the caller's event loop (tests): start hooks, broker, then stop."""
        self.subscribe()
        await self.app.start()
        try:
            yield self
        finally:
            await self.app.stop()

    # ---- consuming ------------------------------------------------------------------------

    async def _consume(self, bodies: list[bytes]) -> None:
        msg = current_message(self.broker)
        records: Sequence[ConsumerRecord[Any, Any]] = msg.raw_message
        consumer = getattr(msg, "consumer", None)
        await self._offsets.around_batch(
            records, consumer, lambda: self._consume_batch(records, consumer)
        )

    async def _consume_batch(
        self, records: Sequence[ConsumerRecord[Any, Any]], consumer: Any
    ) -> None:
        """What one fetch brought (in order within each partition): poison parked, the rest
        applied together."""
        ready: list[Delivery] = []
        for record in records:
            metrics.consumer_lag(
                consumer, record.topic, record.partition, record.offset, self.group_id
            )
            with telemetry.consuming(record.topic, record.headers, "receive"):
                delivery = await self._decode(record)
            if delivery is not None:
                ready.append(delivery)
        await self._apply_in_order(ready)

    async def _decode(self, record: ConsumerRecord[Any, Any]) -> Delivery | None:
        """The record's event and handler, or None once a record no one can read is parked."""
        try:
            headers = strict_headers(record.headers)
            event = from_kafka(headers, record.value or b"")
            handler = self._handlers.get(record.topic, {}).get(event.type)
            if handler is None:
                raise EnvelopeError(f"unknown event type {event.type!r} on {record.topic}")
            check = self._checks.get(record.topic)
            if check is not None:
                check(headers, event)
        except EnvelopeError as exc:
            await self._dead_letter(record, str(exc))
            return None
        return Delivery(record, event, handler)

    async def _apply_in_order(self, ready: list[Delivery]) -> None:
        """Together in one transaction. If a record fails, the ones before it go again
        together, it goes alone (that failure counted as its first try) and those after it
        go on together: the order holds and no record is tried more often than alone."""
        while len(ready) > 1:
            try:
                staged, later = await asyncio.to_thread(apply, self.engine, ready, True)
            except PartFailed as failed:
                log.info("%s: %s; the batch is split there", self.name, failed)
                i = failed.index
                await self._apply_in_order(ready[:i])
                await self._apply_alone(ready[i], failed.cause)
                ready = ready[i + 1 :]
                continue
            except Exception as exc:  # outside any one record: the transaction or its commit
                log.info("%s: a batch's transaction failed (%s): one by one", self.name, exc)
                break
            self._committed(staged, later, f"{self.name}: {len(ready)} records")
            return
        for delivery in ready:  # one left, or a batch that failed outside any one record
            await self._apply_alone(delivery)

    async def _apply_alone(self, delivery: Delivery, failed: Exception | None = None) -> None:
        what = f"{self.name}: {delivery.event.type} {delivery.event.id}"
        with telemetry.consuming(delivery.record.topic, delivery.record.headers):
            try:
                staged, later = await attempt(
                    lambda: asyncio.to_thread(apply_alone, self.engine, delivery),
                    self.retry,
                    what,
                    failed=failed,
                )
            except GaveUp as exc:
                # The record's own fault or a failure that outlived its retries: park it
                # with the reason and take the next one; an operator can replay it.
                await self._dead_letter(delivery.record, f"{exc.verdict}: {exc.reason}")
                return
        self._committed(staged, later, what)

    def _committed(self, staged: bool, later: list[Callable[[], None]], what: str) -> None:
        if staged:  # publish it now
            self.relay.wake()
        self._later.start(later, what)  # committed already: the next record need not wait

    async def _dead_letter(self, record: ConsumerRecord[Any, Any], reason: str) -> None:
        assert self.relay.sender is not None
        await dead_letter(self.relay.sender, record, reason, self.group_id)
