"""Idle platform benchmark: CPU of the whole embedded platform doing nothing.

`python -m bench.idle` starts the embedded stack (Apache Kafka, then tansu), lets it settle,
and reads every process's CPU time (its own and its children's, from /proc) over a window in
which nothing is asked of it. The result is the fraction of one core the platform uses idle,
and which process spends it. Writes bench/results/idle.json.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

from loket_infra.identities import IdentityProvider, running_provider
from loket_infra.stack import EmbeddedStack, StackConfig

from bench.report import publish

SETTLE_S = float(os.environ.get("BENCH_SETTLE_S", "20"))
WINDOW_S = float(os.environ.get("BENCH_WINDOW_S", "60"))
OUT = Path(__file__).parent / "results" / "idle.json"
KAFKAS = os.environ.get("BENCH_KAFKAS", "apache,tansu").split(",")
TICK = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = task / "children"
        if children.exists():
            found += [int(c) for c in children.read_text().split()]
    return found


def cpu_seconds(pid: int) -> float:
    """User + system time of `pid` and every living descendant."""
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            todo += _children(current)
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
    return total


def cpu_of(pids: dict[str, int]) -> dict[str, float]:
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


QUIET_MARGIN = 0.1  # of a core above the idle draw: a twentieth of a burst's two cores
QUIET_WITHIN_S = 120.0


async def _draws(pids: dict[str, int], interval_s: float) -> AsyncIterator[float]:
    """The processes' CPU together, in cores, over each interval from now on."""
    before, at = sum(cpu_of(pids).values()), time.monotonic()
    while True:
        await asyncio.sleep(interval_s)
        spent, now = sum(cpu_of(pids).values()), time.monotonic()
        yield (spent - before) / (now - at)
        before, at = spent, now


async def idle_draw(pids: dict[str, int], interval_s: float = 0.5) -> float:
    """What the processes use doing nothing, in cores (the median of six intervals): tansu's
    platform polls all the time, Apache Kafka's rests."""
    draws = _draws(pids, interval_s)
    return statistics.median([await anext(draws) for _ in range(6)])


async def settled(pids: dict[str, int], idle: float, interval_s: float = 0.5) -> None:
    """Once the processes together use no more than their `idle` draw and QUIET_MARGIN over an
    interval: what a burst set going (workflow tasks after the last answer, read-model
    consumers, the relay's last pass) is done. Gives up after QUIET_WITHIN_S, saying so."""
    deadline = time.monotonic() + QUIET_WITHIN_S
    async for draw in _draws(pids, interval_s):
        if draw < idle + QUIET_MARGIN:
            return
        if time.monotonic() >= deadline:
            break
    print(f"not quiet within {QUIET_WITHIN_S:.0f} s; measuring on", flush=True)


def measure(stack: EmbeddedStack) -> dict[str, float]:
    pids = {n: p.popen.pid for n, p in stack.processes.items() if p.popen is not None}
    time.sleep(SETTLE_S)
    before = cpu_of(pids)
    started = time.monotonic()
    time.sleep(WINDOW_S)
    elapsed = time.monotonic() - started
    after = cpu_of(pids)
    return {n: round((after[n] - before[n]) / elapsed, 4) for n in pids}


def run(kafka: str, identity: IdentityProvider) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="loket-idle-") as tmp:
        config = StackConfig(data_dir=Path(tmp), kafka=kafka, identity=identity)
        with EmbeddedStack(config) as stack:
            per_process = measure(stack)
    return {
        "kafka": kafka,
        "idle_core_fraction": round(sum(per_process.values()), 4),
        "per_process_core_fraction": dict(sorted(per_process.items(), key=lambda kv: -kv[1])),
        "window_s": WINDOW_S,
    }


def main() -> None:
    load_before = os.getloadavg()[0]  # the machine before this run, not after it
    with (
        tempfile.TemporaryDirectory(prefix="loket-idle-idp-") as tmp,
        running_provider(Path(tmp)) as identity,
    ):
        results = [run(kafka, identity) for kafka in KAFKAS]
    report = {
        "benchmark": "idle platform",
        "what": "fraction of one core used by the whole embedded platform (Keycloak, which "
        "the platform shares with tests, excluded) with no work, after settling",
        "machine": {"cpus": os.cpu_count(), "load_before": load_before},
        "results": results,
    }
    publish(OUT, report)


if __name__ == "__main__":
    main()
