"""`python -m loket_workflows.bridge`: service events on Kafka → signals to application workflows.

Consumer group `loket-bridge`. The offset is committed only after Temporal accepted the signal;
the workflow drops a redelivered event by its id. An event for a workflow that no longer runs
(finished, or never existed) is logged and skipped; an undecodable one goes to the DLQ.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka import AIOKafkaProducer, ConsumerRecord
from faststream import FastStream
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.middlewares import AckPolicy
from loket_contracts.application import SIGNAL_SERVICE_EVENT, ServiceEvent
from loket_contracts.envelope import EnvelopeError, from_kafka, header_map
from loket_contracts.topics import SERVICE_EVENT_TOPICS
from loket_messaging.kafka import consumer_options, make_producer
from loket_messaging.runtime import ProducerSender, dead_letter, raw_body
from loket_messaging.settings import Settings
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from loket_workflows.temporal import connect

log = logging.getLogger("loket.bridge")
GROUP = "loket-bridge"


class Bridge:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.broker = KafkaBroker(
            settings.kafka_bootstrap, client_id=GROUP, log_level=logging.DEBUG
        )
        self.app = FastStream(self.broker)
        self.client: Client | None = None
        self.producer: AIOKafkaProducer | None = None
        self.broker.subscriber(
            *SERVICE_EVENT_TOPICS,
            group_id=GROUP,
            ack_policy=AckPolicy.NACK_ON_ERROR,
            decoder=raw_body,
            **consumer_options(),
        )(self.forward)
        self.app.on_startup(self._start)
        self.app.after_startup(self._ready)
        self.app.on_shutdown(self._stop)

    async def _start(self) -> None:
        self.client = await connect(
            self.settings.temporal_address, self.settings.temporal_namespace
        )
        self.producer = make_producer(self.settings.kafka_bootstrap, GROUP)
        await self.producer.start()

    async def _ready(self) -> None:
        self.settings.mark_ready()

    async def _stop(self) -> None:
        if self.producer is not None:
            await self.producer.stop()

    async def forward(self, body: bytes, msg: KafkaMessage) -> None:
        assert self.client is not None and self.producer is not None
        record: ConsumerRecord[Any, Any] = msg.raw_message
        try:
            event = from_kafka(header_map(record.headers), body)
            if not event.correlation_id:
                raise EnvelopeError("missing ce_correlationid: cannot route to an application")
        except EnvelopeError as exc:
            await dead_letter(ProducerSender(self.producer), record, str(exc), GROUP)
            return
        handle = self.client.get_workflow_handle(event.correlation_id)
        signal = ServiceEvent(event_id=event.id, type=event.type, data=event.data.decode())
        try:
            await handle.signal(SIGNAL_SERVICE_EVENT, signal)
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                log.info("no running workflow %s for %s: skipped", event.correlation_id, event.type)
                return
            raise


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s bridge %(levelname)s %(message)s")
    asyncio.run(Bridge(Settings.from_env("bridge")).app.run())


if __name__ == "__main__":
    main()
