"""Answers in the send, over a real broker and a real Temporal server: the bridge in the worker
hands an awaited answer to the send that asked (no signal), and turns every other event,
including an answer that came after its send stopped waiting, into a signal."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from loket_contracts import messages as m
from loket_contracts import topics as t
from loket_contracts.application import SIGNAL_SERVICE_EVENT, ServiceEvent
from loket_contracts.envelope import CloudEvent, from_kafka, header_map
from loket_infra.kafka_tools import create_topics, partitions
from loket_messaging.settings import Settings
from loket_workflows.application.activities import CommandActivities
from loket_workflows.application.answers import AnswerDesk
from loket_workflows.application.dto import SendCommand, SendCommands, SendResult
from loket_workflows.bridge import Bridge
from temporalio import workflow
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from tests.temporal_test_server import start_time_skipping

SERVICE_TOPICS = [t.ELIGIBILITY_COMMANDS, *t.SERVICE_EVENT_TOPICS]
DEADLINE_S = 120.0


@workflow.defn(name="AnswerListener")
class Listener:
    """Stands in for an application: keeps the ids of the events signalled to it."""

    def __init__(self) -> None:
        self.signalled: list[str] = []

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: False)

    @workflow.signal(name=SIGNAL_SERVICE_EVENT)
    def on_service_event(self, event: ServiceEvent) -> None:
        self.signalled.append(event.event_id)

    @workflow.query
    def events(self) -> list[str]:
        return self.signalled


class Eligibility:
    """Stands in for the eligibility service: answers each command on its events topic,
    naming the command it answers, once `release` is set."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.release = asyncio.Event()
        self.release.set()
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Eligibility:
        await self.producer.start()
        await self.consumer.start()
        # Every partition, from its end now: no group join to wait for.
        assigned = await partitions(self.bootstrap, t.ELIGIBILITY_COMMANDS)
        self.consumer.assign(assigned)
        await self.consumer.seek_to_end(*assigned)
        for partition in assigned:
            await self.consumer.position(partition)
        self.task = asyncio.create_task(self._answer())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.consumer.stop()
        await self.producer.stop()

    async def _answer(self) -> None:
        async for record in self.consumer:
            asked = from_kafka(header_map(record.headers), record.value or b"")
            await self.release.wait()
            await self.say(f"{asked.id}/decided", asked.correlation_id or "", caused_by=asked.id)

    async def say(self, event_id: str, app_id: str, caused_by: str | None = None) -> None:
        event = CloudEvent(
            id=event_id,
            source="loket/eligibility",
            type=m.ELIGIBILITY_DECIDED,
            correlation_id=app_id,
            causation_id=caused_by,
            data=b'{"outcome": "eligible"}',
        )
        await self.producer.send_and_wait(
            t.ELIGIBILITY_EVENTS,
            value=event.data,
            key=app_id.encode(),
            headers=event.kafka_headers(),
        )


@pytest.fixture(scope="module")
async def temporal() -> AsyncIterator[Client]:
    async with await start_time_skipping(data_converter=pydantic_data_converter) as env:
        async with Worker(
            env.client,
            task_queue="answers-test",
            workflows=[Listener],
            workflow_runner=UnsandboxedWorkflowRunner(),
        ):
            yield env.client


@dataclass
class Scene:
    """The worker process's half (the desk, the sends' producer, the bridge reading the
    broker), an application, and the eligibility service it asks."""

    desk: AnswerDesk
    producer: AIOKafkaProducer
    handle: WorkflowHandle[Listener, None]
    service: Eligibility

    async def ask(self, wait_s: float) -> SendResult:
        sends = CommandActivities(self.producer, self.desk, answer_wait_s=wait_s)
        return await sends.send_commands(_question(self.handle.id))


@pytest.fixture
async def scene(kafka_bootstrap: str, temporal: Client, tmp_path: Path) -> AsyncIterator[Scene]:
    await create_topics(kafka_bootstrap, SERVICE_TOPICS)
    settings = Settings(
        service="workflows",
        kafka_bootstrap=kafka_bootstrap,
        database_url="",
        temporal_address="",
        temporal_namespace="",
        data_dir=tmp_path,
        ready_file=None,
    )
    desk = AnswerDesk()
    bridge = Bridge(settings, temporal, desk, group=f"test-workflows-{uuid.uuid4().hex[:8]}")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    await bridge.app.start()
    try:
        async with Eligibility(kafka_bootstrap) as service:
            yield Scene(desk, producer, await _application(temporal), service)
    finally:
        await bridge.app.stop()
        await producer.stop()


async def _application(client: Client) -> WorkflowHandle[Listener, None]:
    app_id = f"app-{uuid.uuid4().hex[:10]}"
    return await client.start_workflow(Listener.run, id=app_id, task_queue="answers-test")


def _question(app_id: str) -> SendCommands:
    command = SendCommand(
        topic=t.ELIGIBILITY_COMMANDS,
        type=m.ELIGIBILITY_REQUESTED,
        event_id=f"{app_id}/eligibility",
        correlation_id=app_id,
        body_json="{}",
    )
    return SendCommands(
        commands=[command], answer_to=command.event_id, answer_types=[m.ELIGIBILITY_DECIDED]
    )


async def _signalled(handle: WorkflowHandle[Listener, None], event_id: str) -> list[str]:
    """The events signalled to the application once `event_id` is among them."""
    end = asyncio.get_running_loop().time() + DEADLINE_S
    while True:
        seen = await handle.query(Listener.events)
        if event_id in seen:
            return seen
        assert asyncio.get_running_loop().time() < end, f"{event_id} never signalled: {seen}"
        await asyncio.sleep(0.05)


async def test_an_awaited_answer_comes_back_with_the_send_and_is_not_signalled(
    scene: Scene,
) -> None:
    app_id = scene.handle.id
    # Generous: the answer crosses the broker twice and a group join on a loaded machine.
    sent = await scene.ask(wait_s=DEADLINE_S)
    assert sent.answer is not None
    assert (sent.answer.event_id, sent.answer.type) == (
        f"{app_id}/eligibility/decided",
        m.ELIGIBILITY_DECIDED,
    )
    assert len(scene.desk) == 0  # nothing left waiting
    # An event that answers nothing, after the answer on the same partition: when it has been
    # signalled, the answer has been through the bridge too, and was not signalled.
    await scene.service.say(f"{app_id}/unsolicited", app_id)
    assert await _signalled(scene.handle, f"{app_id}/unsolicited") == [f"{app_id}/unsolicited"]


async def test_an_answer_after_the_send_stopped_waiting_is_signalled(scene: Scene) -> None:
    scene.service.release.clear()  # the service is slow today
    sent = await scene.ask(wait_s=0.2)
    assert sent.answer is None
    assert len(scene.desk) == 0
    scene.service.release.set()
    answer = f"{scene.handle.id}/eligibility/decided"
    assert await _signalled(scene.handle, answer) == [answer]
