"""Service events on Kafka → the application workflows, inside the worker process.

An answer a send in this process is waiting for goes to it (answers.py: the workflow gets it
as the send's result, in the same workflow task); any other event becomes a signal. Consumer
group `loket-workflows`. The offset is committed only after Temporal accepted the signal, or
after the waiting send took the answer (`DurableOffsets`): should the worker die before
Temporal recorded that result, the send runs again with the same event id and the service
answers it again. The workflow drops a redelivered event by its id. An event for a workflow
that no longer runs (finished, or never existed) is logged and skipped; an undecodable one goes
to the DLQ at once, and one Temporal keeps refusing goes there after bounded retries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
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
from loket_messaging.consuming import current_message, raw_body, tolerant_parser
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
        self.broker.subscriber(
            *SERVICE_EVENT_TOPICS,
            group_id=group,
            ack_policy=AckPolicy.MANUAL,  # DurableOffsets commits, after the signal or hand-over
            decoder=raw_body,
            parser=tolerant_parser,
            listener=self.offsets,
            **consumer_options(),
        )(self.forward)
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

    async def forward(self, body: bytes) -> None:
        msg = current_message(self.broker)
        await self.offsets.around(msg, lambda: self._forward(body, msg))

    async def _forward(self, body: bytes, msg: KafkaMessage) -> None:
        assert self.producer is not None
        record: ConsumerRecord[Any, Any] = msg.raw_message
        try:
            event = from_kafka(strict_headers(record.headers), body)
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
