"""The services' consumer takes records in batches and polls again at once after an empty
poll: FastStream's batch subscriber pauses for the whole poll timeout there, and a record that
arrived meanwhile waited for it (up to the whole fetch wait on Apache Kafka)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from faststream.kafka.subscriber import usecase
from faststream.kafka.subscriber.usecase import BatchSubscriber
from loket_messaging import ServiceRuntime
from loket_messaging.consuming import PromptBatchSubscriber

from tests.settings import local_settings


class Idle:
    """A consumer whose poll found nothing."""

    async def getmany(self, timeout_ms: int, max_records: int | None) -> dict[Any, Any]:
        self.asked = (timeout_ms, max_records)
        return {}


async def test_an_empty_poll_is_followed_by_the_next_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(usecase.anyio, "sleep", sleep)
    subscriber = SimpleNamespace(batch_timeout_ms=2000, max_records=50)
    assert await BatchSubscriber.get_msg(subscriber, Idle()) == ()  # type: ignore[arg-type]
    assert slept == [2.0]  # FastStream's own: a pause as long as the poll
    slept.clear()
    idle = Idle()
    assert await PromptBatchSubscriber.get_msg(subscriber, idle) == ()  # type: ignore[arg-type]
    assert slept == [] and idle.asked == (2000, 50)


def test_a_service_consumes_in_prompt_batches(tmp_path: Path) -> None:
    runtime = ServiceRuntime(local_settings(tmp_path))
    runtime.handle("test.in.v1", "test.ping.v1", lambda session, event: [])
    runtime.subscribe()
    [subscriber] = runtime.broker.subscribers
    assert isinstance(subscriber, PromptBatchSubscriber) and subscriber.max_records == 50
