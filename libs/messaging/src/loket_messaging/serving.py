"""Serve a FastStream application until SIGTERM or SIGINT, without a polling loop.

`FastStream.run()` checks an exit flag every 0.1 s: an idle service woke ten times a second
for nothing, the most frequent of its wake-ups (bench/idle.py). Here the signal itself ends
the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from faststream import FastStream

log = logging.getLogger("loket.messaging")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


async def serve(app: FastStream, name: str) -> None:
    """Start `app`, serve until a stop signal, stop it. A signal during start-up (a broker
    that never answers, say) cancels the start; a failed start-up raises."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop.set)
    try:
        starting = asyncio.create_task(app.start(), name=f"{name}-start")
        stopping = asyncio.create_task(stop.wait(), name=f"{name}-stop")
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await starting
            with contextlib.suppress(Exception):  # half started: stop what did start
                await app.stop()
            return
        if starting.exception() is not None:
            stopping.cancel()
            starting.result()
        log.info("%s started", name)
        try:
            await stopping
        finally:
            log.info("%s stopping", name)
            await app.stop()
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
