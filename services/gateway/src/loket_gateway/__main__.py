"""`python -m loket_gateway`: serve the HTTP API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import os
from types import FrameType
from typing import Any

import uvicorn
from loket_messaging import event_loop, telemetry
from starlette.types import ASGIApp

from loket_gateway.app import create_app


class RestingServer(uvicorn.Server):
    """uvicorn's main loop wakes every 0.1 s to look for a stop request: ten wake-ups a
    second for nothing when idle. This one looks once a second (the Date header's
    resolution), and a stop signal wakes it at once."""

    _stop: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        counter = 0  # on_tick refreshes the Date header when counter % 10 == 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._stop.wait()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)


# Longer than any client keeps an idle connection (httpx: 5 s, uvicorn's default too): the
# client closes first. With equal times a client could send on a connection just as the
# server closed it and get a reset instead of an answer (seen in a 100-application burst).
KEEP_ALIVE_S = 65


def server_config(app: ASGIApp, port: int, **options: Any) -> uvicorn.Config:
    # No access log: client addresses are personal data; the audit trail records every write
    # by principal, and acceptances keep their request's metadata as evidence.
    return uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="info",
        access_log=False,
        timeout_keep_alive=KEEP_ALIVE_S,
        loop=event_loop.chosen(),
        **options,
    )


def main() -> None:
    telemetry.configure_logging("gateway")
    port = int(os.environ.get("LOKET_GATEWAY_PORT", "18080"))
    RestingServer(server_config(create_app(), port)).run()


if __name__ == "__main__":
    main()
