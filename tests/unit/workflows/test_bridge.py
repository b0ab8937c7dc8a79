"""The bridge hands on what one fetch brought: each application's events in the order they came,
and no application waits for another's."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any, cast

from aiokafka.structs import ConsumerRecord
from loket_contracts import messages as m
from loket_contracts.envelope import CloudEvent
from loket_contracts.topics import ELIGIBILITY_EVENTS
from loket_messaging.settings import Settings
from loket_workflows.application.answers import AnswerDesk
from loket_workflows.bridge import Bridge
from temporalio.client import Client

DEADLINE_S = 30.0


def record(offset: int, application: str | None) -> ConsumerRecord[Any, Any]:
    headers = [("ce_correlationid", application.encode())] if application else []
    return ConsumerRecord(
        ELIGIBILITY_EVENTS, 0, offset, 0, 0, None, f"{application}-{offset}".encode(), None, 0, 0,
        headers,
    )  # fmt: skip


def settings(tmp: Path) -> Settings:
    return Settings(
        service="workflows",
        kafka_bootstrap="127.0.0.1:9",
        database_url="",
        temporal_address="",
        temporal_namespace="",
        data_dir=tmp,
        ready_file=None,
    )


class Recording(Bridge):
    """Hands nothing on: notes each record as it is handed, and holds the first of app-a's
    until app-b's last has been handed."""

    def __init__(self, tmp: Path) -> None:
        super().__init__(settings(tmp), cast(Client, None), AnswerDesk())
        self.handed: list[bytes] = []
        self.b_done = asyncio.Event()

    async def _forward(self, record: ConsumerRecord[Any, Any]) -> None:
        if record.value == b"app-a-0":
            await self.b_done.wait()
        self.handed.append(record.value)
        if record.value == b"app-b-4":
            self.b_done.set()


async def test_each_application_in_order_and_none_waits_for_another(tmp_path: Path) -> None:
    bridge = Recording(tmp_path)
    fetched = [
        record(0, "app-a"),
        record(1, "app-b"),
        record(2, "app-a"),
        record(3, None),  # no application named: parked in its turn, after none of these
        record(4, "app-b"),
        record(5, "app-a"),
    ]
    async with asyncio.timeout(DEADLINE_S):  # app-a's first waits for app-b's last
        await bridge._forward_all(fetched)
    handed = bridge.handed
    assert [v for v in handed if v.startswith(b"app-a")] == [b"app-a-0", b"app-a-2", b"app-a-5"]
    assert [v for v in handed if v.startswith(b"app-b")] == [b"app-b-1", b"app-b-4"]
    assert handed.index(b"app-b-4") < handed.index(b"app-a-0")
    assert b"None-3" in handed


class Parked:
    """Stands in for the worker's producer: keeps what is sent (the dead-letter topic)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[tuple[str, bytes]]]] = []

    async def send_and_wait(self, topic: str, **kw: Any) -> None:
        self.sent.append((topic, kw["headers"]))


async def test_a_record_without_a_body_is_parked_not_retried(tmp_path: Path) -> None:
    """A tombstone with a service's headers: not an event (CloudEvent bodies are JSON). Raised,
    it would take its fetch back again and again."""
    bridge = Bridge(settings(tmp_path), cast(Client, None), AnswerDesk())
    parked = Parked()
    bridge.producer = cast(Any, parked)
    said = CloudEvent(source="loket/eligibility", type=m.ELIGIBILITY_DECIDED, correlation_id="a")
    tombstone = dataclasses.replace(record(7, "a"), headers=said.kafka_headers(), value=None)
    await bridge._forward_all([tombstone])
    [(topic, headers)] = parked.sent
    assert topic == f"{ELIGIBILITY_EVENTS}.dlq"
    assert dict(headers)["dlq_reason"] == b"poison: no body"
