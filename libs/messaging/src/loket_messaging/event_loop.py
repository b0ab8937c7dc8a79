"""The event loop every long-running Loket process runs on.

uvloop (libuv) by default: the standard loop was about a quarter of the worker's busy samples
and a tenth of each service's under a burst (`make profile`), scheduling callbacks and reading
sockets. `LOKET_EVENT_LOOP=asyncio` runs the standard loop instead, a way back should a
library misbehave on uvloop. Workflow code is untouched either way: Temporal's workflows run
on the SDK's own deterministic loop, not on this one.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar, cast

import uvloop

Loop = Literal["uvloop", "asyncio"]
LOOPS: tuple[Loop, ...] = ("uvloop", "asyncio")
T = TypeVar("T")
log = logging.getLogger("loket.messaging")


def chosen() -> Loop:
    """The loop `LOKET_EVENT_LOOP` names (uvloop when unset); anything else is refused at
    start-up rather than silently run on a loop nobody asked for."""
    name = os.environ.get("LOKET_EVENT_LOOP", "uvloop").strip() or "uvloop"
    if name not in LOOPS:
        raise ValueError(f"LOKET_EVENT_LOOP must be one of {', '.join(LOOPS)}, not {name!r}")
    return cast(Loop, name)


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(main)` on the chosen loop."""
    loop = chosen()
    log.info("event loop: %s", loop)
    if loop == "uvloop":
        return uvloop.run(main)
    return asyncio.run(main)
