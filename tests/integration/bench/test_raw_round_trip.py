"""The raw round trips the per-application bench compares Loket's commands with: on a real
broker, every question comes back to whoever asked it, one at a time and many at once."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest
from loket_infra import brokers
from loket_infra.kafka_tools import create_topics

from bench.raw_round_trip import RoundTrips


@pytest.fixture
def parked_like_the_services(monkeypatch: pytest.MonkeyPatch) -> None:
    kind = os.environ.get("LOKET_KAFKA", "apache")
    monkeypatch.setenv("LOKET_KAFKA_FETCH_MAX_WAIT_MS", str(brokers.FETCH_MAX_WAIT_MS[kind]))
    monkeypatch.setenv("LOKET_KAFKA_SESSION_TIMEOUT_MS", str(brokers.SESSION_TIMEOUT_MS[kind]))


@pytest.mark.usefixtures("parked_like_the_services")
async def test_each_question_comes_back_to_its_asker(kafka_bootstrap: str) -> None:
    run = uuid.uuid4().hex[:8]
    ask, answer = f"bench.ask-{run}", f"bench.answer-{run}"
    await create_topics(kafka_bootstrap, [ask, answer])
    # Bounded: a question whose answer never comes fails the test rather than hanging it.
    async with asyncio.timeout(60), RoundTrips(kafka_bootstrap, ask, answer) as trips:
        chained = [await trips.one() for _ in range(3)]
        together = await trips.many(40)
        assert not trips.waiting  # nobody still waits: each answer found its question
    assert len(chained) == 3 and len(together) == 40
    assert all(t > 0 for t in chained + together)
