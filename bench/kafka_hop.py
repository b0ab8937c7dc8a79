"""Kafka hop benchmark: raw aiokafka produce→consume vs one Loket service hop, like with like.

`python -m bench.kafka_hop` starts Apache Kafka, then tansu, on 127.0.0.1 and on each, one
message at a time, with a pause before each so that every consumer is parked in a fetch (as
the services' consumers are when an event arrives), at the fetch wait the platform uses on
that broker (`brokers.FETCH_MAX_WAIT_MS`: Apache Kafka wakes a parked fetch on produce, tansu
only re-polls):
- raw: aiokafka producer → aiokafka consumer;
- service: producer → ServiceRuntime (FastStream consumer, inbox + outbox in SQLite, relay)
  → consumer. The service's consume→publish overhead = service − 2 × raw (two transits).
Writes bench/results/kafka_hop.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from loket_contracts.envelope import CloudEvent, make_event
from loket_infra import brokers
from loket_infra.kafka_tools import create_topics
from loket_infra.processes import free_port, port_open, wait_until
from loket_messaging import Outgoing, ServiceRuntime, Settings
from pydantic import BaseModel
from sqlmodel import Session

N = int(os.environ.get("BENCH_N", "200"))
WARMUP = 200  # a fresh broker JIT-compiles its hot paths for a few hundred messages
PARK_S = 0.03  # before each message: long enough for the consumer's fetch to be parked
OUT = Path(__file__).parent / "results" / "kafka_hop.json"


class Ping(BaseModel):
    sent: float


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def summary(ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(ms), 3),
        "p95_ms": round(pct(ms, 95), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "n": len(ms),
    }


async def consumer_for(bootstrap: str, topic: str, fetch_wait: int) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="latest",
        fetch_max_wait_ms=fetch_wait,
        session_timeout_ms=3000,
        heartbeat_interval_ms=750,
    )
    await consumer.start()
    while not consumer.assignment():  # noqa: ASYNC110 (no public event for it)
        await asyncio.sleep(0.05)
    await consumer.seek_to_end()
    return consumer


async def measure(
    bootstrap: str, send_topic: str, recv_topic: str, headers: bool, fetch_wait: int
) -> list[float]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0, acks="all")
    await producer.start()
    consumer = await consumer_for(bootstrap, recv_topic, fetch_wait)
    out: list[float] = []
    try:
        for i in range(N + WARMUP):
            await asyncio.sleep(PARK_S)  # pacing, not waiting: every consumer is parked now
            t0 = time.perf_counter()
            event = make_event(
                source="bench", type_="bench.ping.v1", body=Ping(sent=t0), correlation_id=f"c{i}"
            )
            await producer.send_and_wait(
                send_topic,
                value=event.data,
                key=b"k",
                headers=event.kafka_headers() if headers else [],
            )
            await consumer.getone()
            if i >= WARMUP:
                out.append((time.perf_counter() - t0) * 1000)
    finally:
        await consumer.stop()
        await producer.stop()
    return out


def pong(session: Session, event: CloudEvent) -> Sequence[Outgoing]:
    reply = make_event(
        source="bench",
        type_="bench.pong.v1",
        body=event.decode(Ping),
        correlation_id=event.correlation_id,
    )
    return [Outgoing("bench.out", reply)]


async def service_hop(bootstrap: str, tmp: Path, kind: str) -> list[float]:
    fetch_wait = brokers.FETCH_MAX_WAIT_MS[kind]
    os.environ["LOKET_KAFKA_FETCH_MAX_WAIT_MS"] = str(fetch_wait)
    os.environ["LOKET_KAFKA_SESSION_TIMEOUT_MS"] = str(brokers.SESSION_TIMEOUT_MS[kind])
    name = f"bench-{uuid.uuid4().hex[:6]}"
    runtime = ServiceRuntime(Settings.local(tmp, name, bootstrap))
    runtime.handle("bench.in", "bench.ping.v1", pong)
    async with runtime.running():
        await asyncio.wait_for(runtime._offsets.assigned.wait(), 30)
        return await measure(bootstrap, "bench.in", "bench.out", True, fetch_wait)


async def on_broker(kind: str) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="loket-bench-"))
    port, wait = free_port(), brokers.FETCH_MAX_WAIT_MS[kind]
    if kind == "apache":
        broker = brokers.apache_kafka(port, free_port(), tmp, tmp / "kafka.log")
    else:
        broker = brokers.tansu(port, tmp / "kafka.log")
    broker.start()
    try:
        wait_until(kind, lambda: port_open(port), 120, broker.alive, broker.log)
        bootstrap = f"127.0.0.1:{port}"
        await create_topics(bootstrap, ["bench.raw", "bench.in", "bench.out"])
        raw = await measure(bootstrap, "bench.raw", "bench.raw", True, wait)
        hop = await service_hop(bootstrap, tmp, kind)
    finally:
        broker.stop()
    raw_p50 = statistics.median(raw)
    overhead = [t - 2 * raw_p50 for t in hop]
    return {
        "broker": kind,
        "fetch_max_wait_ms": wait,
        "raw_parked_produce_consume": summary(raw),
        "service_hop": summary(hop),
        "service_overhead_p50_ms": round(statistics.median(overhead), 3),
        "hop_overhead_ratio": round(statistics.median(overhead) / raw_p50, 3),
    }


async def main() -> dict[str, object]:
    load_before = os.getloadavg()[0]  # the machine before this run, not after it
    return {
        "benchmark": "kafka_hop",
        "python": sys.version.split()[0],
        "machine": {"cpus": os.cpu_count(), "load_before": load_before},
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "results": [await on_broker(kind) for kind in ("apache", "tansu")],
        "target": "service overhead p50 ≤ 2 × a parked raw hop's p50 (SPEC targets)",
    }


if __name__ == "__main__":
    data = asyncio.run(main())
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=2) + "\n")
    print(json.dumps(data, indent=2))
    sys.stdout.flush()
    os._exit(0)
