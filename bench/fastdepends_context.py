"""What a FastStream handler pays to be given its message: `python -m bench.fastdepends_context`
→ bench/results/fastdepends_context.json.

The same subscriber on FastStream's in-memory broker (TestKafkaBroker: no network, so the
difference is the handler's call alone), two ways:
- annotation: `async def h(body: bytes, msg: KafkaMessage)`. fast_depends resolves the
  `Context("message")` behind `KafkaMessage` with a synchronous call, which it runs in a worker
  thread, for every message;
- context: `async def h(body: bytes)` reading `broker.context.get_local("message")`, as
  `loket_messaging.consuming.current_message` does.

CPU per message (process time), in rounds alternating the two ways; the medians are reported.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from loket_messaging.consuming import current_message

from bench.report import publish

N = int(os.environ.get("BENCH_N", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
WARMUP = 200
OUT = Path(__file__).parent / "results" / "fastdepends_context.json"


def _subscribe(broker: KafkaBroker, way: str, seen: list[Any]) -> None:
    if way == "annotation":

        @broker.subscriber("bench.context")
        async def by_annotation(body: bytes, msg: KafkaMessage) -> None:
            seen.append(msg.raw_message)

    else:

        @broker.subscriber("bench.context")
        async def by_context(body: bytes) -> None:
            seen.append(current_message(broker).raw_message)


async def cpu_us_per_message(way: str) -> float:
    broker = KafkaBroker()
    seen: list[Any] = []
    _subscribe(broker, way, seen)
    async with TestKafkaBroker(broker) as test_broker:
        for _ in range(WARMUP):
            await test_broker.publish(b"x", "bench.context")
        t0 = time.process_time()
        for _ in range(N):
            await test_broker.publish(b"x", "bench.context")
        spent = time.process_time() - t0
    # Both ways really got the record: a handler that saw nothing would measure nothing.
    assert len(seen) == WARMUP + N and all(r is not None for r in seen)
    return spent / N * 1e6


def main() -> None:
    load_before = os.getloadavg()[0]  # the machine before this run, not after it
    runs: dict[str, list[float]] = {"annotation": [], "context": []}
    for _ in range(ROUNDS):
        for way in runs:
            runs[way].append(round(asyncio.run(cpu_us_per_message(way)), 1))
    medians = {way: statistics.median(v) for way, v in runs.items()}
    report = {
        "benchmark": "CPU per message of a FastStream handler given its message two ways",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_before": load_before,
        },
        "messages_per_round": N,
        "cpu_us_per_message": medians,
        "cpu_us_per_message_by_round": runs,
        "saved_us_per_message": round(medians["annotation"] - medians["context"], 1),
    }
    publish(OUT, report)


if __name__ == "__main__":
    main()
