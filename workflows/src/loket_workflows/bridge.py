"""Service events on Kafka → the application workflows, inside the worker process.

An answer a send in this process is waiting for goes to it (answers.py: the workflow gets it
as the send's result, in the same workflow task); any other event becomes a signal. Consumer
group `loket-workflows`. What one fetch brought is handled together: each application's events
in order, different applications' at once (a slow signal holds up only its own application).
The offsets are committed only after Temporal accepted the signals, or after the waiting sends
took the answers (`DurableOffsets`): should the worker die before
Temporal recorded that result, the send runs again with the same event id and the service
answers it again. The workflow drops a redelivered event by its id. An event for a workflow
that no longer runs (finished, or never existed) is logged and skipped; an undecodable one goes
to the DLQ at once, and one Temporal keeps refusing goes there after bounded retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.message import KafkaMessage
from faststream.middlewares import AckPolicy
from loket_contracts.application import SIGNAL_SERVICE_EVENT, ServiceEvent
from loket_contracts.envelope import EnvelopeError, from_kafka, strict_headers
from loket_contracts.topics import SERVICE_EVENT_TOPICS
from loket_messaging import telemetry
from loket_messaging.consuming import (
    MAX_RECORDS,
    current_message,
    prompt,
    raw_body,
    tolerant_parser,
)
from loket_messaging.failures import GaveUp, Rejected, RetryPolicy, attempt
from loket_messaging.kafka import KafkaLogin, consumer_options, make_producer
from loket_messaging.offsets import DurableOffsets
from loket_messaging.senders import ProducerSender, dead_letter
from loket_messaging.settings import Settings
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from loket_workflows.application.answers import AnswerDesk

log = logging.getLogger("loket.bridge")
GROUP = "loket-workflows"
# Temporal is restarting or overloaded: wait and signal again.
TEMPORAL_TRANSIENT = frozenset(
    {
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
        RPCStatusCode.ABORTED,
        RPCStatusCode.INTERNAL,
        RPCStatusCode.UNKNOWN,
        RPCStatusCode.CANCELLED,
    }
)


class Bridge:
    def __init__(
        self, settings: Settings, client: Client, desk: AnswerDesk, group: str = GROUP
    ) -> None:
        self.settings = settings
        self.client = client
        self.desk = desk
        self.group = group
        login = KafkaLogin.from_env()
        self.broker = KafkaBroker(
            settings.kafka_bootstrap,
            client_id=group,
            log_level=logging.DEBUG,
            security=login.faststream() if login else None,
            middlewares=telemetry.kafka_middlewares(),
        )
        self.app = FastStream(self.broker)
        self.producer: AIOKafkaProducer | None = None
        self.retry = RetryPolicy.from_env()
        self.offsets = DurableOffsets()
        self._committer: asyncio.Task[None] | None = None
        options = consumer_options()
        subscriber = self.broker.subscriber(
            *SERVICE_EVENT_TOPICS,
            batch=True,
            max_records=MAX_RECORDS,
            batch_timeout_ms=options["consumer_timeout_ms"],  # an empty poll's wait
            group_id=group,
            ack_policy=AckPolicy.MANUAL,  # DurableOffsets commits, after the signal or hand-over
            decoder=raw_body,
            parser=tolerant_parser,
            listener=self.offsets,
            **options,
        )
        prompt(subscriber)(self.forward)
        self.app.on_startup(self._start)
        self.app.after_startup(self._ready)
        self.app.on_shutdown(self._stop)

    async def _start(self) -> None:
        self.producer = make_producer(self.settings.kafka_bootstrap, self.group)
        await self.producer.start()

    async def _ready(self) -> None:
        self._committer = asyncio.create_task(self.offsets.run(), name="offset-committer")

    async def _stop(self) -> None:
        with contextlib.suppress(Exception):  # what is not committed comes again: harmless
            await self.offsets.flush()
        if self._committer is not None:
            self._committer.cancel()
        if self.producer is not None:
            await self.producer.stop()

    async def forward(self, bodies: list[bytes]) -> None:
        msg: KafkaMessage = current_message(self.broker)
        records: Sequence[ConsumerRecord[Any, Any]] = msg.raw_message
        consumer = getattr(msg, "consumer", None)
        await self.offsets.around_batch(records, consumer, lambda: self._forward_all(records))

    async def _forward_all(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Each application's events in the order they came, the applications side by side.
        One that raised takes the whole fetch back (`around_batch`): what was done comes again,
        and the workflows drop it by its event id."""
        by_application: dict[bytes, list[ConsumerRecord[Any, Any]]] = {}
        for record in records:
            by_application.setdefault(_application_of(record), []).append(record)
        await asyncio.gather(*(self._forward_in_order(rs) for rs in by_application.values()))

    async def _forward_in_order(self, records: list[ConsumerRecord[Any, Any]]) -> None:
        for record in records:
            with telemetry.consuming(record.topic, record.headers):
                await self._forward(record)

    async def _forward(self, record: ConsumerRecord[Any, Any]) -> None:
        assert self.producer is not None
        try:
            if record.value is None:  # a tombstone: no service says anything without a body
                raise EnvelopeError("no body")
            event = from_kafka(strict_headers(record.headers), record.value)
            # Only what a service said on its own topic becomes a signal (the broker's ACLs
            # let only that service write there; this holds on an open broker too).
            expected = f"loket/{record.topic.split('.')[1]}"
            if event.source != expected:
                raise EnvelopeError(f"ce_source {event.source!r} on {record.topic}: not {expected}")
            if not event.correlation_id:
                raise EnvelopeError("missing ce_correlationid: cannot route to an application")
            if self.desk.offer(event):
                return
            signal = ServiceEvent(event_id=event.id, type=event.type, data=event.data.decode())
            await attempt(
                lambda: self._signal(event.correlation_id or "", signal),
                self.retry,
                f"bridge: {event.type} {event.id}",
            )
        except (EnvelopeError, UnicodeDecodeError) as exc:
            await dead_letter(ProducerSender(self.producer), record, f"poison: {exc}", self.group)
        except GaveUp as exc:
            await dead_letter(
                ProducerSender(self.producer), record, f"{exc.verdict}: {exc.reason}", self.group
            )

    async def _signal(self, workflow_id: str, signal: ServiceEvent) -> None:
        try:
            await self.client.get_workflow_handle(workflow_id).signal(SIGNAL_SERVICE_EVENT, signal)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                log.info("no running workflow %s for %s: skipped", workflow_id, signal.type)
                return
            if exc.status in TEMPORAL_TRANSIENT:
                raise ConnectionError(f"Temporal: {exc.status.name} {exc.message}") from exc
            raise Rejected(f"Temporal refused the signal: {exc.status.name} {exc.message}") from exc


def _application_of(record: ConsumerRecord[Any, Any]) -> bytes:
    """The application a record is about, as its header names it (unchecked: a record without
    one is parked when its turn comes, in the group of such records)."""
    for key, value in record.headers or ():
        if key == "ce_correlationid":
            return bytes(value)
    return b""
