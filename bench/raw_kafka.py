"""Raw Kafka round trips beside the per-application comparison: the figure question 4 of issue
13 needs (should the CPU target's reference include a raw round trip per command?).

A child process (`bench.raw_round_trip`) makes the round trips with plain aiokafka on the
platform's broker; its CPU and the broker's are their cost. How many commands an application
sends is counted on the command topics in the same run, not assumed."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from typing import IO, Any

from loket_contracts.topics import (
    ALLOCATION_COMMANDS,
    CHARTER_COMMANDS,
    ELIGIBILITY_COMMANDS,
    VOUCHERS_COMMANDS,
)
from loket_infra import brokers
from loket_infra.kafka_tools import create_topics, end_offsets
from loket_infra.stack import EmbeddedStack

from bench.bursts import Burst, pooled_cpu_ms, side_report
from bench.idle import cpu_of, settled

COMMAND_TOPICS = (ELIGIBILITY_COMMANDS, ALLOCATION_COMMANDS, VOUCHERS_COMMANDS, CHARTER_COMMANDS)
READY_S = 120  # the child's consumers join their groups (a broker under load: seconds)
TRIPS_S = 600  # a burst of round trips (milliseconds each): a child that hangs fails the run


class RawKafkaSide:
    """Round trips, `burst` of them at once in a burst."""

    def __init__(
        self, stack: EmbeddedStack, platform: dict[str, int], idle: float, burst: int
    ) -> None:
        self.stack, self.platform, self.idle, self.n = stack, platform, idle, burst
        run = uuid.uuid4().hex[:8]
        self.topics = (f"bench.ask-{run}", f"bench.answer-{run}")

    async def __aenter__(self) -> RawKafkaSide:
        stack = self.stack
        await create_topics(stack.kafka_admin, list(self.topics))
        env = {
            **os.environ,
            "LOKET_KAFKA_BOOTSTRAP": stack.kafka_bootstrap,
            "LOKET_KAFKA_FETCH_MAX_WAIT_MS": str(brokers.FETCH_MAX_WAIT_MS[stack.config.kafka]),
            "LOKET_KAFKA_SESSION_TIMEOUT_MS": str(brokers.SESSION_TIMEOUT_MS[stack.config.kafka]),
        }
        admin = stack.kafka_admin.login  # raw topics: no service's ACLs cover them
        if admin is not None:
            env["LOKET_KAFKA_USER"], env["LOKET_KAFKA_PASSWORD"] = admin.username, admin.password
        self.child = subprocess.Popen(  # noqa: ASYNC220 (a child for the whole comparison)
            [sys.executable, "-m", "bench.raw_round_trip", *self.topics],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.pids = {"kafka": self.platform["kafka"], "raw-kafka": self.child.pid}
        self.everyone = {**self.platform, **self.pids}
        try:
            await asyncio.wait_for(self._line(), READY_S)
            for _ in range(5):  # warm-up
                await self.one()
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.child.stdin is not None:
            self.child.stdin.close()  # its loop ends at end of input
        try:
            await asyncio.to_thread(self.child.wait, 30)
        except subprocess.TimeoutExpired:
            self.child.kill()
            await asyncio.to_thread(self.child.wait, 30)

    async def _line(self) -> dict[str, Any]:
        out: IO[str] | None = self.child.stdout
        assert out is not None
        line = await asyncio.to_thread(out.readline)
        if not line:
            raise RuntimeError(f"bench.raw_round_trip ended (exit {self.child.poll()})")
        found: dict[str, Any] = json.loads(line)
        return found

    async def _trips(self, how: str, n: int) -> list[float]:
        assert self.child.stdin is not None
        self.child.stdin.write(f"{how} {n}\n")
        self.child.stdin.flush()
        took: list[float] = (await asyncio.wait_for(self._line(), TRIPS_S))["took"]
        return took

    async def one(self) -> float:
        return (await self._trips("chained", 1))[0]

    async def burst(self, how: str = "together") -> Burst:
        """`n` round trips at once (`together`: the client batches what is sent at once, so
        each costs least) or one after another (`chained`: each its own requests, the most),
        from a quiet platform until it is quiet again."""
        await settled(self.everyone, self.idle)
        before = cpu_of(self.pids)
        took = await self._trips(how, self.n)
        await settled(self.everyone, self.idle)
        return Burst(took, before, cpu_of(self.pids))

    @staticmethod
    def report(alone: list[float], bursts: list[Burst], chains: list[Burst]) -> dict[str, Any]:
        chained = pooled_cpu_ms(chains)
        return {
            **side_report(alone, bursts, "round_trip"),
            "cpu_ms_per_round_trip_chained": round(sum(chained.values()), 2),
            "cpu_ms_per_round_trip_chained_by_process": chained,
        }


async def commands_sent(stack: EmbeddedStack) -> int:
    """Records on the services' command topics so far."""
    total = 0
    for topic in COMMAND_TOPICS:
        total += sum((await end_offsets(stack.kafka_admin, topic)).values())
    return total


def with_round_trips(
    raw: dict[str, Any], ours: dict[str, Any], trip: dict[str, Any], commands: float, asked: int
) -> dict[str, Any]:
    """Not targets: the ratios if their references included raw Kafka round trips (issue 13,
    questions 2 and 4), for the product owner to decide with figures.

    CPU: the raw workflow plus one round trip per command an application sends. A round trip
    costs least in a burst (sent together, batched) and most chained (each its own requests):
    the ratio for each. Unloaded: the raw workflow's p50 plus one unloaded round trip per
    command sent, one after another, before the terms are ready."""
    ratios = {}
    for how, key in (
        ("burst", "cpu_ms_per_round_trip"),
        ("chained", "cpu_ms_per_round_trip_chained"),
    ):
        reference = raw["cpu_ms_per_workflow"] + commands * trip[key]
        ratios[f"cpu_per_application_ratio_round_trips_{how}"] = round(
            ours["cpu_ms_per_application"] / reference, 3
        )
    unloaded = raw["unloaded_p50_s"] + asked * trip["unloaded_p50_s"]
    return {
        "commands_per_application": round(commands, 2),
        "commands_before_terms": asked,
        **ratios,
        "unloaded_p50_ratio_round_trips": round(ours["unloaded_p50_s"] / unloaded, 3),
        "raw_round_trip": trip,
    }
