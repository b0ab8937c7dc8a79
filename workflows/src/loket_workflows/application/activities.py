"""Activities: the workflow's only way out to the services is a command over Kafka."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata
from loket_contracts.envelope import CloudEvent
from loket_messaging import telemetry
from temporalio import activity

from loket_workflows.application.dto import SendCommand, SendCommands

SOURCE = "loket/workflows"


class CommandActivities:
    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    @activity.defn(name="send_command")
    async def send_command(self, cmd: SendCommand) -> None:
        await (await self._publish(cmd))

    @activity.defn(name="send_commands")
    async def send_commands(self, batch: SendCommands) -> None:
        # Handed to the producer in order (one application = one key = one partition per
        # topic), then awaited together: one round trip for the batch.
        delivered = [await self._publish(cmd) for cmd in batch.commands]
        await asyncio.gather(*delivered)

    async def _publish(self, cmd: SendCommand) -> asyncio.Future[RecordMetadata]:
        event = CloudEvent(
            id=cmd.event_id,
            source=SOURCE,
            type=cmd.type,
            subject=cmd.correlation_id,
            correlation_id=cmd.correlation_id,
            data=cmd.body_json.encode(),
        )
        headers = event.kafka_headers()
        telemetry.inject(headers)  # the activity's span: the service continues this trace
        return await self._producer.send(
            cmd.topic, value=event.data, key=cmd.correlation_id.encode(), headers=headers
        )
