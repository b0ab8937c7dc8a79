"""The raw side of the per-application comparison: a trivial workflow (one no-op activity,
bench/raw_worker.py) with its worker in a process of its own, as Loket's worker is, on the
same Temporal server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from typing import Any

from loket_infra.stack import EmbeddedStack
from temporalio.client import Client

from bench.bursts import Burst, side_report
from bench.idle import cpu_of, settled


class RawSide:
    """The trivial workflow, `burst` of them at once in a burst."""

    def __init__(
        self, stack: EmbeddedStack, platform: dict[str, int], idle: float, burst: int
    ) -> None:
        self.stack, self.platform, self.idle, self.n = stack, platform, idle, burst
        self.queue = f"bench-raw-{uuid.uuid4().hex[:8]}"

    async def __aenter__(self) -> RawSide:
        stack = self.stack
        args = ["bench.raw_worker", stack.temporal_address, stack.namespace, self.queue]
        # A child for the whole comparison.
        self.worker = subprocess.Popen([sys.executable, "-m", *args])  # noqa: ASYNC220
        self.pids = {"temporal": self.platform["temporal"], "raw-worker": self.worker.pid}
        self.everyone = {**self.platform, **self.pids}  # what must be quiet around a burst
        self.client = await Client.connect(
            self.stack.temporal_address, namespace=self.stack.namespace
        )
        try:
            for i in range(5):  # warm-up; the first waits for the worker to poll
                await self.one(f"warm-{i}")
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        self.worker.terminate()
        await asyncio.to_thread(self.worker.wait, 30)

    async def one(self, tag: str) -> float:
        t = time.perf_counter()
        await self.client.execute_workflow(
            "Trivial",
            0,
            id=f"{self.queue}-{tag}",
            task_queue=self.queue,
            execution_timeout=timedelta(minutes=5),
        )
        return time.perf_counter() - t

    async def burst(self, r: int) -> Burst:
        """From a quiet platform until it is quiet again."""
        await settled(self.everyone, self.idle)
        before = cpu_of(self.pids)
        took = await asyncio.gather(*(self.one(f"par-{r}-{i}") for i in range(self.n)))
        await settled(self.everyone, self.idle)
        return Burst(list(took), before, cpu_of(self.pids))

    @staticmethod
    def report(alone: list[float], bursts: list[Burst]) -> dict[str, Any]:
        return side_report(alone, bursts, "workflow")
