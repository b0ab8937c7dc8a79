"""Activities: the workflow's only way out to the services is a command over Kafka."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer
from loket_contracts.envelope import CloudEvent
from temporalio import activity

from loket_workflows.application.dto import SendCommand

SOURCE = "loket/workflows"


class CommandActivities:
    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    @activity.defn(name="send_command")
    async def send_command(self, cmd: SendCommand) -> None:
        event = CloudEvent(
            id=cmd.event_id,
            source=SOURCE,
            type=cmd.type,
            subject=cmd.correlation_id,
            correlation_id=cmd.correlation_id,
            data=cmd.body_json.encode(),
        )
        await self._producer.send_and_wait(
            cmd.topic,
            value=event.data,
            key=cmd.correlation_id.encode(),
            headers=event.kafka_headers(),
        )
