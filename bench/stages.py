"""Stage events as a benchmark receives them: when each application reached each stage, one
Kafka hop after the workflow announced it (as the raw workflow's result is one long poll)."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer
from loket_contracts.application import StageChanged
from loket_contracts.topics import APPLICATION_EVENTS
from loket_infra import brokers
from loket_infra.kafka_tools import partitions
from loket_infra.stack import EmbeddedStack


class Stages:
    """Stage events as this process receives them: (application, stage) → when."""

    def __init__(self, stack: EmbeddedStack) -> None:
        self.stack = stack
        self.seen: dict[tuple[str, str], float] = {}
        self.changed = asyncio.Condition()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        parts = await partitions(self.stack.kafka_admin, APPLICATION_EVENTS)
        wait_ms = brokers.FETCH_MAX_WAIT_MS[self.stack.config.kafka]  # as the services
        consumer = AIOKafkaConsumer(
            **self.stack.kafka_admin.client_kwargs(),
            enable_auto_commit=False,
            fetch_max_wait_ms=wait_ms,
        )
        await consumer.start()
        consumer.assign(parts)
        await consumer.seek_to_end(*parts)
        self.task = asyncio.create_task(self._follow(consumer))

    async def _follow(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                batch = await consumer.getmany(timeout_ms=1000)
                now = time.perf_counter()
                async with self.changed:
                    for records in batch.values():
                        for record in records:
                            event = StageChanged.model_validate_json(record.value)
                            self.seen.setdefault((event.application_id, event.stage), now)
                    self.changed.notify_all()
        finally:
            await consumer.stop()

    async def reached(self, app_id: str, *stages: str) -> tuple[str, float]:
        async with self.changed:
            await asyncio.wait_for(
                self.changed.wait_for(lambda: any((app_id, s) in self.seen for s in stages)),
                timeout=600,
            )
        stage = next(s for s in stages if (app_id, s) in self.seen)
        return stage, self.seen[(app_id, stage)]

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
