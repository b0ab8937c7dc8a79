"""The bridge hands on what one fetch brought: each application's events in the order they came,
and no application waits for another's."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

from aiokafka.structs import ConsumerRecord
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


class Recording(Bridge):
    """Hands nothing on: notes each record as it is handed, and holds the first of app-a's
    until app-b's last has been handed."""

    def __init__(self, tmp: Path) -> None:
        settings = Settings(
            service="workflows",
            kafka_bootstrap="127.0.0.1:9",
            database_url="",
            temporal_address="",
            temporal_namespace="",
            data_dir=tmp,
            ready_file=None,
        )
        super().__init__(settings, cast(Client, None), AnswerDesk())
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
