"""What the messaging layer costs a service per record, with no broker and no domain work:
`python -m bench.outbox_path` → bench/results/outbox_path.json.

Every consuming process (the four services and the gateway's read model) runs the same path for
each record: the inbox claim, the handler, its outgoing event staged in the outbox, the
transaction's commit, then the relay reading the staged rows and marking them published. Here
the handler does nothing but answer, so what is measured is that path alone, on a SQLite file as
in the embedded platform: CPU per record (process time), in batches of 1 (an unloaded service)
and of 50 (a burst, the runtime's MAX_RECORDS), each followed by a relay pass through a sender
that acknowledges at once. Rounds alternate the two batch sizes; the medians are reported.
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import ConsumerRecord
from loket_contracts.envelope import CloudEvent, make_event
from loket_messaging.consuming import Delivery, apply
from loket_messaging.db import create_schema, make_engine
from loket_messaging.outbox import Outgoing
from loket_messaging.senders import Headers, acknowledged, publish_pending
from pydantic import BaseModel
from sqlmodel import Session

from bench.report import publish

N = int(os.environ.get("BENCH_N", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
BATCHES = (1, 50)
OUT = Path(__file__).parent / "results" / "outbox_path.json"


class Asked(BaseModel):
    application_id: str


class Acknowledging:
    """A sender whose broker takes every record at once."""

    async def enqueue(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Headers
    ) -> Awaitable[Any]:
        return acknowledged()

    async def send(
        self, topic: str, value: bytes | None, key: bytes | None, headers: Headers
    ) -> None:
        return None


def answer(session: Session, event: CloudEvent) -> Sequence[Outgoing]:
    body = Asked(application_id=event.correlation_id or "")
    out = make_event(
        source="loket/bench", type_="bench.answered", body=body, correlation_id=body.application_id
    )
    return [Outgoing("bench.answers", out)]


def deliveries(n: int) -> list[Delivery]:
    made = []
    for i in range(n):
        app = f"app-{uuid.uuid4().hex[:12]}"
        event = make_event(
            source="loket/workflows",
            type_="bench.asked",
            body=Asked(application_id=app),
            correlation_id=app,
        )
        record: ConsumerRecord[Any, Any] = ConsumerRecord(
            topic="bench.asks",
            partition=0,
            offset=i,
            timestamp=0,
            timestamp_type=0,
            key=None,
            value=event.data,
            checksum=None,
            serialized_key_size=0,
            serialized_value_size=len(event.data),
            headers=[],
        )
        made.append(Delivery(record, event, answer))
    return made


async def cpu_us_per_record(url: str, batch: int) -> float:
    engine = make_engine(url)
    try:
        todo = deliveries(N)
        sender = Acknowledging()
        t0 = time.process_time()
        for start in range(0, N, batch):
            apply(engine, todo[start : start + batch], traced=False)
            await publish_pending(engine, sender)
        return (time.process_time() - t0) / N * 1e6
    finally:
        engine.dispose()


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        engine = make_engine(url)
        create_schema(engine)
        engine.dispose()
        await cpu_us_per_record(url, 50)  # warm-up: statement caches, imports
        by_batch: dict[int, list[float]] = {b: [] for b in BATCHES}
        for _ in range(ROUNDS):
            for b in BATCHES:
                by_batch[b].append(round(await cpu_us_per_record(url, b), 1))
    publish(
        OUT,
        {
            "benchmark": "the messaging layer's CPU per record: inbox, outbox, commit, relay",
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "load_before": os.getloadavg()[0],
            },
            "records_per_round": N,
            "cpu_us_per_record": {f"batch_{b}": statistics.median(v) for b, v in by_batch.items()},
            "cpu_us_per_record_by_round": {f"batch_{b}": v for b, v in by_batch.items()},
        },
    )


if __name__ == "__main__":
    asyncio.run(main())
