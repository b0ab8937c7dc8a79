"""Per application, like with like: Loket against raw Temporal in the same run.

`python -m bench.per_application` starts the embedded platform (Apache Kafka, then tansu),
publishes three facilities abroad, then measures:

- raw Temporal: a workflow with one no-op activity, its worker in its own process (as the
  application worker is), on the same Temporal server: one at a time (p50 start → result) and
  N at once (p95 start → result; CPU of the server and the worker per workflow);
- Loket: applications one at a time (p50 submit → terms ready), then N at once, each accepted
  as soon as its terms are ready and followed to its voucher (p95 submit → terms ready; CPU of
  every platform process per application, from the first submission until the platform is
  quiet after the last voucher).

The two sides take turns: one raw workflow, then one application, thirty times; then a raw
burst, then a Loket burst, BENCH_ROUNDS times (3). So both meet the same moments of the
machine, whose speed drifts within minutes. Each item and each burst starts on a quiet platform
(`bench.idle.settled`: back to its idle draw, measured first), and a burst's CPU is read once
the platform is quiet again: neither side is charged with what the other set going, and a
Loket burst is charged with all it set going. Each side's CPU per item and percentiles are
taken over all its bursts together, and each burst's figures are kept as well.

Raw Kafka round trips (bench/raw_kafka.py) take turns with them too: one before each
application, a burst of N at once and a chain of N one after another before each Loket burst.
With the commands an application sends, counted on the command topics, they give the ratios
against references that include a round trip per command (`with_kafka_round_trips`: figures
for the product owner's questions, not targets).

"Terms ready" is when this process receives the `awaiting_acceptance` stage event on
loket.applications.events.v1: one Kafka hop, as the raw result is one long poll. Writes
bench/results/per_application.json with the ratios the SPEC's targets name.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from loket_infra.identities import ActingAs, running_provider
from loket_infra.stack import EmbeddedStack, StackConfig

from bench.applications import follow, publish_facilities, undertaking
from bench.bursts import Burst, side_report
from bench.idle import cpu_of, idle_draw, settled
from bench.raw_kafka import RawKafkaSide, commands_sent, with_round_trips
from bench.raw_temporal import RawSide
from bench.report import publish
from bench.stages import Stages

N = int(os.environ.get("BENCH_N", "100"))  # the SPEC's burst: 100 at once
# Bursts per side. One raw burst lasts about 3 s, and its CPU per workflow moved from 38 to
# 64 ms between runs (whether the server's garbage collector ran in it, say): the ratios are
# taken over several bursts of each side, pooled.
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
SEQUENTIAL = 30  # one at a time: the median of 30 (it was 10) is not moved by one slow moment
KAFKAS = os.environ.get("BENCH_KAFKAS", "apache,tansu").split(",")
OUT = Path(__file__).parent / "results" / "per_application.json"
TARGETS = {"cpu_per_application_ratio": 4.0, "burst_p95_ratio": 3.0, "unloaded_p50_ratio": 1.5}


class LoketSide:
    """Applications through the gateway, each accepted as soon as its terms are ready and
    followed to its voucher."""

    def __init__(self, stack: EmbeddedStack, pids: dict[str, int], idle: float) -> None:
        self.stack, self.pids, self.idle = stack, pids, idle
        self.elapsed = 0.0  # in bursts
        self.after_last: list[float] = []  # CPU-ms an application after a burst's last voucher

    async def __aenter__(self) -> LoketSide:
        # Each request as whoever may make it; every start-up's person is onboarded (and holds
        # a token) before the clock starts.
        orgs = [undertaking(i) for i in (*range(SEQUENTIAL + 4), *range(1000, 1000 + ROUNDS * N))]
        await asyncio.to_thread(lambda: [self.stack.identity.applicant(org) for org in orgs])
        self.stages = Stages(self.stack)
        await self.stages.start()
        self.http = httpx.AsyncClient(
            base_url=self.stack.gateway_url, timeout=60, auth=ActingAs(self.stack.identity)
        )
        try:
            for i in range(3):  # warm-up
                await self.one(SEQUENTIAL + i)
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.http.aclose()
        await self.stages.stop()

    async def one(self, i: int) -> float:
        return await follow(self.http, self.stages, i)

    async def asked_before_terms(self, i: int) -> int:
        """How many commands an application sends until its terms are ready (counted on the
        command topics around one application, the platform otherwise quiet)."""
        await settled(self.pids, self.idle)
        before = await commands_sent(self.stack)
        asked: list[int] = []

        async def count() -> None:
            asked.append(await commands_sent(self.stack) - before)

        await follow(self.http, self.stages, i, at_terms=count)
        return asked[0]

    async def burst(self, r: int) -> Burst:
        """From a quiet platform until it is quiet again: the work a voucher leaves behind
        (the workflow's next task, the read model, the relay) is counted too."""
        first = 1000 + r * N
        await settled(self.pids, self.idle)
        before = cpu_of(self.pids)
        t = time.perf_counter()
        took = await asyncio.gather(*(self.one(first + i) for i in range(N)))
        self.elapsed += time.perf_counter() - t
        last_voucher = cpu_of(self.pids)
        await settled(self.pids, self.idle)
        after = cpu_of(self.pids)
        self.after_last.append(sum(after[p] - last_voucher[p] for p in after) * 1000 / N)
        return Burst(list(took), before, after)

    def report(self, alone: list[float], bursts: list[Burst]) -> dict[str, Any]:
        return {
            **side_report(alone, bursts, "application"),
            "burst_applications_per_s": len(bursts) * N / self.elapsed,
            "cpu_ms_per_application_after_last_voucher_by_burst": [
                round(ms, 2) for ms in self.after_last
            ],
        }


async def loket(stack: EmbeddedStack, pids: dict[str, int]) -> dict[str, Any]:
    """Loket alone (bench.tracing compares it with itself)."""
    async with LoketSide(stack, pids, await idle_draw(pids)) as ours:
        alone = [await ours.one(i) for i in range(SEQUENTIAL)]
        return ours.report(alone, [await ours.burst(r) for r in range(ROUNDS)])


async def measure(stack: EmbeddedStack) -> dict[str, Any]:
    await publish_facilities(stack, 10 * N)
    pids = {n: p.popen.pid for n, p in stack.processes.items() if p.popen is not None}
    raw_alone: list[float] = []
    ours_alone: list[float] = []
    trip_alone: list[float] = []
    raw_bursts: list[Burst] = []
    ours_bursts: list[Burst] = []
    trip_bursts: list[Burst] = []
    trip_chains: list[Burst] = []
    # Interleaved, one of each in turn: the machine's speed drifts within minutes (another
    # tenant, the server's garbage collector), and both sides should meet the same drift.
    idle = await idle_draw(pids)
    async with (
        RawSide(stack, pids, idle, N) as raw,
        RawKafkaSide(stack, pids, idle, N) as trips,
        LoketSide(stack, pids, idle) as ours,
    ):
        asked = await ours.asked_before_terms(SEQUENTIAL + 3)
        commands_before = await commands_sent(stack)
        for i in range(SEQUENTIAL):  # each from a quiet platform: unloaded
            await settled(raw.everyone, idle)
            raw_alone.append(await raw.one(f"seq-{i}"))
            await settled(trips.everyone, idle)
            trip_alone.append(await trips.one())
            await settled(raw.everyone, idle)
            ours_alone.append(await ours.one(i))
        for r in range(ROUNDS):
            raw_bursts.append(await raw.burst(r))
            trip_bursts.append(await trips.burst())
            trip_chains.append(await trips.burst("chained"))
            ours_bursts.append(await ours.burst(r))
        commands = (await commands_sent(stack) - commands_before) / (SEQUENTIAL + ROUNDS * N)
    raw_result = raw.report(raw_alone, raw_bursts)
    our_result = ours.report(ours_alone, ours_bursts)
    ratios = {
        "cpu_per_application_ratio": our_result["cpu_ms_per_application"]
        / raw_result["cpu_ms_per_workflow"],
        "burst_p95_ratio": our_result["burst_p95_s"] / raw_result["burst_p95_s"],
        "unloaded_p50_ratio": our_result["unloaded_p50_s"] / raw_result["unloaded_p50_s"],
    }
    return {
        "kafka": stack.config.kafka,
        **{k: round(v, 3) for k, v in ratios.items()},
        "met": {k: ratios[k] <= TARGETS[k] for k in TARGETS},
        "raw_temporal": raw_result,
        "loket": our_result,
        "with_kafka_round_trips": with_round_trips(
            raw_result,
            our_result,
            trips.report(trip_alone, trip_bursts, trip_chains),
            commands,
            asked,
        ),
    }


def main() -> None:
    load_before = os.getloadavg()[0]  # the machine before this run, not after it
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="loket-per-app-") as tmp,
        running_provider(Path(tmp) / "idp") as identity,
    ):
        for kafka in KAFKAS:
            config = StackConfig(data_dir=Path(tmp) / kafka, kafka=kafka, identity=identity)
            with EmbeddedStack(config) as stack:
                results.append(asyncio.run(measure(stack)))
    report = {
        "benchmark": "per application, against raw Temporal in the same run",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_before": load_before},
        "burst": N,
        "bursts_per_side": ROUNDS,
        "targets": {k: f"<= {v}" for k, v in TARGETS.items()},
        "results": results,
    }
    publish(OUT, report)


if __name__ == "__main__":
    main()
