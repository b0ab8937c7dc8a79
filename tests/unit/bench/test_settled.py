"""bench.idle.settled: a burst's CPU is read only once what it set going is done, and the next
side starts from a quiet platform."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator

import pytest

from bench.idle import QUIET_MARGIN, idle_draw, settled

SPIN = "while True: pass"


@pytest.fixture
def spinners() -> Iterator[list[subprocess.Popen[bytes]]]:
    # Two, so that together they stay above a tenth of a core on a machine at load 10.
    procs = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(2)]
    yield procs
    for proc in procs:
        proc.kill()
        proc.wait(30)


async def test_waits_while_the_processes_work_and_returns_once_they_stop(
    spinners: list[subprocess.Popen[bytes]],
) -> None:
    pids = {f"spinner-{i}": proc.pid for i, proc in enumerate(spinners)}
    waiting = asyncio.create_task(settled(pids, idle=0.0, interval_s=0.2))
    done, _ = await asyncio.wait({waiting}, timeout=2)  # ten intervals, all busy
    assert not done
    for proc in spinners:
        proc.kill()
        await asyncio.to_thread(proc.wait, 30)
    await asyncio.wait_for(waiting, timeout=60)  # quiet from the first interval after


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    yield proc
    proc.kill()
    proc.wait(30)


async def test_an_idle_process_is_quiet_at_once(sleeper: subprocess.Popen[bytes]) -> None:
    pids = {"idle": sleeper.pid}
    assert await idle_draw(pids, interval_s=0.1) < QUIET_MARGIN
    await asyncio.wait_for(settled(pids, idle=0.0, interval_s=0.2), timeout=60)


async def test_a_platform_that_polls_all_the_time_is_quiet_at_its_idle_draw(
    spinners: list[subprocess.Popen[bytes]],
) -> None:
    """tansu's platform uses half a core doing nothing: quiet is measured from there."""
    pids = {f"spinner-{i}": proc.pid for i, proc in enumerate(spinners)}
    busy = await idle_draw(pids, interval_s=0.2)
    assert busy > QUIET_MARGIN
    await asyncio.wait_for(settled(pids, idle=busy, interval_s=0.2), timeout=60)
