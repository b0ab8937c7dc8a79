"""Limits: a request body limit, enforced before anything reads or parses the body, and a
write rate per principal."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loket_gateway.problems import PROBLEM_JSON, TYPE_BASE

MAX_BODY_BYTES = 256 * 1024  # an application with 20 needs and 50 linked enterprises is ~40 KB


class TooLarge(HTTPException):
    """Raised while the body streams in; FastAPI passes HTTP exceptions on to the problem
    handlers, so the client gets the same 413 problem as for a declared length."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"The request body is too large: at most {max_bytes} bytes")


DISCARD_AT_MOST = 16 * 1024 * 1024


async def _discard(receive: Receive) -> None:
    """Take what the client is still sending (up to a bound), so it can read the answer."""
    taken = 0
    while taken <= DISCARD_AT_MOST:
        message = await receive()
        if message["type"] != "http.request":
            return
        taken += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


class BodyLimit:
    """413 with a problem body when Content-Length says so, or when a streamed body grows
    past the limit: a 10 MB body is never buffered, let alone parsed."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _discard(receive)  # unread and unparsed; a client still sending gets its 413
            await self._refuse(scope, send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise TooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except TooLarge:
            if not started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body: dict[str, Any] = {
            "type": TYPE_BASE + "body-too-large",
            "title": "The request body is too large",
            "status": 413,
            "detail": f"at most {self.max_bytes} bytes",
            "instance": scope.get("path", ""),
        }
        payload = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


@dataclass
class WriteRate:
    """A token bucket per principal for state-changing requests: `burst` at once, then
    `per_minute`. Per gateway process; buckets of principals idle long enough are dropped."""

    per_minute: float = 120.0
    burst: float = 60.0
    _buckets: dict[str, tuple[float, float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_env(cls) -> WriteRate:
        return cls(
            per_minute=float(os.environ.get("LOKET_WRITES_PER_MINUTE", "120")),
            burst=float(os.environ.get("LOKET_WRITE_BURST", "60")),
        )

    def take(self, principal: str, now: float | None = None) -> float:
        """0 if the write may go ahead, else the seconds until it may."""
        now = time.monotonic() if now is None else now
        rate = self.per_minute / 60.0
        with self._lock:
            tokens, last = self._buckets.get(principal, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[principal] = (tokens - 1.0, now)
                return 0.0
            self._buckets[principal] = (tokens, now)
            if len(self._buckets) > 100_000:  # forget principals whose buckets are full again
                full_after = self.burst / rate
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}
            return (1.0 - tokens) / rate
