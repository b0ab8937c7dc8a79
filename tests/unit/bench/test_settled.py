"""bench.idle.settled: a burst's CPU is read only once what it set going is done, and the next
side starts from a quiet platform."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import pytest

from bench.idle import QUIET_MARGIN, idle_draw, settled

# Says so once it spins: an interpreter that is still starting (reading its files on a busy
# machine) may use less than a tenth of a core, and the test would watch that instead.
SPIN = "print('spinning', flush=True)\nwhile True: pass"


@pytest.fixture
async def spinners() -> AsyncIterator[list[subprocess.Popen[bytes]]]:
    # Two, so that together they stay above a tenth of a core on a machine at load 10.
    procs = [
        subprocess.Popen([sys.executable, "-c", SPIN], stdout=subprocess.PIPE)  # noqa: ASYNC220
        for _ in range(2)
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            said = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 120)
            assert said == b"spinning\n"
        yield procs
    finally:  # a kill also ends a read still waiting
        for proc in procs:
            proc.kill()
            await asyncio.to_thread(proc.wait, 30)


async def test_waits_while_the_processes_work_and_returns_once_they_stop(
    spinners: list[subprocess.Popen[bytes]],
) -> None:
    pids = {f"spinner-{i}": proc.pid for i, proc in enumerate(spinners)}
    waiting = asyncio.create_task(settled(pids, idle=0.0, interval_s=0.5))
    done, _ = await asyncio.wait({waiting}, timeout=3)  # six intervals, all busy
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
