"""What a consumer does when processing a record fails: retry, or park it on the DLQ.

Three kinds of failure, three answers:
- *poison*: the record itself is wrong (cannot be decoded, validated, or overflows a number).
  Retrying changes nothing, so it goes to the dead-letter topic at once with the reason.
- *transient*: the database or the broker is away. Retried in place with backoff for a
  bounded time (a PostgreSQL restart takes seconds); a record still failing then is parked.
- *unexpected*: anything else (a bug). A few retries, then parked, never an endless loop.
"""

from __future__ import annotations

import asyncio
import decimal
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from aiokafka.errors import (
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    RecordTooLargeError,
    UnsupportedForMessageFormatError,
)
from loket_contracts.envelope import EnvelopeError
from pydantic import ValidationError
from sqlalchemy import exc as sa_exc

log = logging.getLogger("loket.messaging")
T = TypeVar("T")


class Rejected(Exception):
    """A handler refuses a message that is well-formed but unusable; it goes to the DLQ."""


class Verdict(StrEnum):
    POISON = "poison"
    TRANSIENT = "transient"
    UNEXPECTED = "unexpected"


_POISON: tuple[type[BaseException], ...] = (
    EnvelopeError,
    Rejected,
    ValidationError,
    UnicodeError,
    decimal.DecimalException,
    OverflowError,
    ValueError,
    sa_exc.DataError,  # e.g. PostgreSQL "integer out of range": the value, not the server
)
_TRANSIENT: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,
    KafkaError,
    ConnectionError,
    TimeoutError,
    OSError,
)


# What a broker will refuse however often the relay asks: the row itself is at fault.
UNPUBLISHABLE: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    InvalidTopicError,
    UnsupportedForMessageFormatError,
    UnicodeError,
    ValueError,
    TypeError,
)


def classify(exc: BaseException) -> Verdict:
    # DataError is a subclass of DBAPIError like OperationalError: test poison first.
    if isinstance(exc, _POISON):
        return Verdict.POISON
    if isinstance(exc, _TRANSIENT):
        return Verdict.TRANSIENT
    cause = exc.__cause__
    if cause is not None and cause is not exc:
        return classify(cause)
    return Verdict.UNEXPECTED


@dataclass(frozen=True)
class RetryPolicy:
    """How long a record may keep failing before it is parked."""

    transient_budget_s: float = 300.0
    unexpected_attempts: int = 3
    first_delay_s: float = 0.1
    max_delay_s: float = 5.0

    @classmethod
    def from_env(cls) -> RetryPolicy:
        return cls(
            transient_budget_s=float(os.environ.get("LOKET_TRANSIENT_RETRY_S", 300)),
            unexpected_attempts=int(os.environ.get("LOKET_UNEXPECTED_ATTEMPTS", 3)),
        )


class GaveUp(Exception):
    """Processing failed for good; `reason` says why, for the DLQ record."""

    def __init__(self, reason: str, verdict: Verdict) -> None:
        super().__init__(reason)
        self.reason, self.verdict = reason, verdict


def describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:1000]


async def attempt(
    op: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    what: str,
    *,
    failed: Exception | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run `op` until it succeeds; raise GaveUp for poison or when retries are used up.
    `failed`: how its first try, made elsewhere (with other records), already failed."""
    started = clock()
    delay = policy.first_delay_s
    unexpected = 0
    while True:
        if failed is None:
            try:
                return await op()
            except asyncio.CancelledError:
                raise
            except Exception as raised:
                failed = raised
        exc, failed = failed, None
        verdict = classify(exc)
        if verdict is Verdict.POISON:
            raise GaveUp(describe(exc), verdict) from exc
        if verdict is Verdict.UNEXPECTED:
            unexpected += 1
            if unexpected >= policy.unexpected_attempts:
                raise GaveUp(f"failed {unexpected} times, last: {describe(exc)}", verdict) from exc
        elif clock() - started >= policy.transient_budget_s:
            raise GaveUp(
                f"transient failure for {policy.transient_budget_s:.0f} s, last: {describe(exc)}",
                verdict,
            ) from exc
        log.warning("%s failed (%s), retrying in %.1fs: %s", what, verdict, delay, exc)
        await asyncio.sleep(delay)
        delay = min(delay * 2, policy.max_delay_s)
