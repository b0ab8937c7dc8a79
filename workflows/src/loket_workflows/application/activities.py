"""Activities: the workflow's only way out to the services is a command over Kafka; a send
may bring its command's answer back with it (answers.py)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata
from loket_contracts.envelope import CloudEvent
from loket_messaging import telemetry
from temporalio import activity

from loket_workflows.application.answers import AnswerDesk, Awaited
from loket_workflows.application.dto import SendCommand, SendCommands, SendResult

SOURCE = "loket/workflows"
# How long a send waits for its answer in this process. Well inside the workflow task's
# timeout (10 s; Temporal would otherwise be told the task is still running); an answer
# that takes longer comes as a signal.
ANSWER_WAIT_S = 3.0


class CommandActivities:
    def __init__(
        self,
        producer: AIOKafkaProducer,
        desk: AnswerDesk | None = None,
        answer_wait_s: float = ANSWER_WAIT_S,
    ) -> None:
        self._producer = producer
        self._desk = desk
        self._answer_wait_s = answer_wait_s

    @activity.defn(name="send_command")
    async def send_command(self, cmd: SendCommand) -> None:
        await (await self._publish(cmd))

    @activity.defn(name="send_commands")
    async def send_commands(self, batch: SendCommands) -> SendResult:
        asked = next((c for c in batch.commands if c.event_id == batch.answer_to), None)
        if self._desk is None or asked is None:
            await self._send(batch.commands)
            return SendResult()
        awaited = Awaited(asked.event_id, tuple(batch.answer_types), asked.correlation_id)
        answer = self._desk.expect(awaited)
        try:
            await self._send(batch.commands)
        except BaseException:
            self._desk.forget(awaited)
            raise
        return SendResult(answer=await self._desk.wait(awaited, answer, self._answer_wait_s))

    async def _send(self, commands: list[SendCommand]) -> None:
        # Handed to the producer in order (one application = one key = one partition per
        # topic), then awaited together: one round trip for the batch.
        delivered = [await self._publish(cmd) for cmd in commands]
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
