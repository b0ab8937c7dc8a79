"""The event loop a Loket process runs on: uvloop unless `LOKET_EVENT_LOOP=asyncio`; a service
served on it still stops on a real stop signal; a misspelt choice stops the process at start-up
with the choices named. Each test runs its own loop, as a process's `main` does."""

from __future__ import annotations

import asyncio

import pytest
import uvloop
from faststream.kafka import KafkaBroker, TestKafkaBroker
from loket_messaging import event_loop
from loket_messaging.serving import serve

from tests.unit.messaging.test_serving import app_recording


def serve_once(steps: list[str]) -> type[asyncio.AbstractEventLoop]:
    """Serve an app until the SIGTERM it raises once started; the class of the loop it ran on."""

    async def main() -> type[asyncio.AbstractEventLoop]:
        broker = KafkaBroker("127.0.0.1:9")  # never dialled: in-memory
        async with TestKafkaBroker(broker):
            await asyncio.wait_for(serve(app_recording(broker, steps), "probe"), timeout=60)
        return type(asyncio.get_running_loop())

    return event_loop.run(main())


def test_a_service_runs_on_uvloop_by_default_and_still_stops_on_a_signal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LOKET_EVENT_LOOP", raising=False)
    steps: list[str] = []
    assert serve_once(steps) is uvloop.Loop
    assert steps == ["starting", "started", "stopped"]


def test_the_standard_loop_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOKET_EVENT_LOOP", "asyncio")
    steps: list[str] = []
    ran_on = serve_once(steps)
    assert not issubclass(ran_on, uvloop.Loop)
    assert issubclass(ran_on, asyncio.BaseEventLoop)
    assert steps == ["starting", "started", "stopped"]


def test_a_misspelt_loop_is_refused_with_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOKET_EVENT_LOOP", "libuv")
    never = asyncio.sleep(0)
    with pytest.raises(ValueError, match="uvloop, asyncio, not 'libuv'"):
        event_loop.run(never)
    never.close()  # refused before it ran
