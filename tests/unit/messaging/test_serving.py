"""`serve`: a service runs until a stop signal and then stops its app; a signal during
start-up cancels the start; a failed start-up ends with its error. Real signals, sent to this
process while `serve` holds them; FastStream's in-memory broker (a real one would only add a
Kafka connection to wait for)."""

from __future__ import annotations

import asyncio
import signal

import pytest
from faststream import FastStream
from faststream.kafka import KafkaBroker, TestKafkaBroker
from loket_messaging.serving import serve


def app_recording(
    broker: KafkaBroker, steps: list[str], start: str = "ok", began: asyncio.Event | None = None
) -> FastStream:
    app = FastStream(broker)

    @app.on_startup
    async def starting() -> None:
        steps.append("starting")
        if began is not None:
            began.set()
        if start == "hangs":
            await asyncio.Event().wait()
        if start == "fails":
            raise RuntimeError("database away")

    @app.after_startup
    async def started() -> None:
        steps.append("started")
        signal.raise_signal(signal.SIGTERM)  # as the supervisor would

    @app.on_shutdown
    async def stopping() -> None:
        steps.append("stopped")

    return app


async def test_a_stop_signal_stops_the_app_once_started() -> None:
    steps: list[str] = []
    broker = KafkaBroker("127.0.0.1:9")  # never dialled: in-memory
    app = app_recording(broker, steps)
    async with TestKafkaBroker(broker):
        await asyncio.wait_for(serve(app, "probe"), timeout=60)
    assert steps == ["starting", "started", "stopped"]
    # the handlers are gone with it: the loop would otherwise keep a stale one
    assert not asyncio.get_running_loop().remove_signal_handler(signal.SIGTERM)


async def test_a_stop_signal_during_start_up_cancels_it() -> None:
    steps: list[str] = []
    began = asyncio.Event()
    broker = KafkaBroker("127.0.0.1:9")  # never dialled: in-memory
    app = app_recording(broker, steps, start="hangs", began=began)
    async with TestKafkaBroker(broker):
        serving = asyncio.create_task(serve(app, "probe"))
        await asyncio.wait_for(began.wait(), timeout=60)
        signal.raise_signal(signal.SIGINT)
        await asyncio.wait_for(serving, timeout=60)
    assert steps == ["starting", "stopped"]


async def test_a_failed_start_up_raises_its_error() -> None:
    steps: list[str] = []
    broker = KafkaBroker("127.0.0.1:9")  # never dialled: in-memory
    app = app_recording(broker, steps, start="fails")
    async with TestKafkaBroker(broker):
        with pytest.raises(RuntimeError, match="database away"):
            await asyncio.wait_for(serve(app, "probe"), timeout=60)
    assert steps == ["starting"]
