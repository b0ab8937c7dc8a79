"""200 screenings at once over Kafka against three replicas of the real vouchers service on
PostgreSQL: no undertaking over its ceilings, no budget overrun, no lost hold, one answer each.

Replicas in one consumer group take different partitions, so applications of the same
single undertaking and hundreds against one budget really run in concurrent transactions."""

from __future__ import annotations

import asyncio
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path

import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from loket_contracts import messages as m
from loket_contracts.envelope import header_map, make_event
from loket_contracts.topics import VOUCHERS_COMMANDS, VOUCHERS_EVENTS
from loket_infra.kafka_tools import create_topics, partitions
from loket_infra.processes import READY_DEADLINE_S, Process, wait_until

from tests.integration.postgres import throwaway_database

UNDERTAKINGS = 20
PER_UNDERTAKING = 10
VALUE = Decimal(40_000)
REPLICAS = 3  # one per partition of the commands topic
BUDGET = Decimal(5_000_000)  # 200 × €40,000 = €8m asked: the budget must bind


@pytest.fixture
def pg_url() -> Iterator[str]:
    with throwaway_database("loket_conc") as url:
        yield url


@pytest.fixture
def scheme_file(tmp_path: Path) -> Path:
    text = resources.files("loket_contracts").joinpath("schemes", "pilot-2026.toml").read_text()
    text = text.replace("quantum = { value = 1_000_000", f"quantum = {{ value = {BUDGET}")
    path = tmp_path / "pilot-2026.toml"
    path.write_text(text)
    return path


@pytest.fixture
def replicas(
    kafka_bootstrap: str, pg_url: str, scheme_file: Path, tmp_path: Path
) -> Iterator[list[Process]]:
    asyncio.run(create_topics(kafka_bootstrap))
    procs = []
    for i in range(REPLICAS):
        ready = tmp_path / f"vouchers-{i}.ready"
        proc = Process(
            f"vouchers-{i}",
            [sys.executable, "-m", "loket_vouchers"],
            tmp_path / f"vouchers-{i}.log",
            {
                "LOKET_KAFKA_BOOTSTRAP": kafka_bootstrap,
                "DATABASE_URL": pg_url,
                "LOKET_SCHEME_FILE": str(scheme_file),
                "LOKET_READY_FILE": str(ready),
                "LOKET_KAFKA_SESSION_TIMEOUT_MS": "3000",
                "LOKET_DATA_DIR": str(tmp_path),
            },
        )
        proc.start()
        procs.append(proc)
        wait_until(proc.name, ready.exists, READY_DEADLINE_S, proc.alive, proc.log)
    try:
        yield procs
    finally:
        for proc in procs:
            proc.stop()


def command(app_id: str, undertaking: str) -> tuple[bytes, list[tuple[str, bytes]]]:
    cmd = m.ScreeningRequested(
        application_id=app_id,
        undertaking_id=undertaking,
        call_id="LOKET-2026-01",
        priority_area="quantum",
        market_value_eur=VALUE,
        applicant_payment_eur=Decimal(0),
        as_of=date(2026, 11, 28),
    )
    event = make_event(
        source="test",
        type_=m.SCREENING_REQUESTED,
        body=cmd,
        correlation_id=app_id,
        event_id=f"{app_id}/screening",
    )
    return event.data, event.kafka_headers()


async def answers(bootstrap: str, app_ids: set[str], deadline_s: float) -> dict[str, list]:
    parts = await partitions(bootstrap, VOUCHERS_EVENTS)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50
    )
    await consumer.start()
    found: dict[str, list] = {}
    try:
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = time.monotonic() + deadline_s
        while len(found) < len(app_ids) and time.monotonic() < end:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for r in records:
                    h = header_map(r.headers)
                    if h.get("ce_correlationid") in app_ids:
                        found.setdefault(h["ce_correlationid"], []).append((h["ce_type"], r.value))
        return found
    finally:
        await consumer.stop()


async def test_200_concurrent_screenings_never_overrun(
    kafka_bootstrap: str, pg_url: str, replicas: list[Process]
) -> None:
    tag = uuid.uuid4().hex[:6]
    apps = {
        f"app-{tag}-{u}-{k}": f"U-{tag}-{u}"
        for u in range(UNDERTAKINGS)
        for k in range(PER_UNDERTAKING)
    }
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=5)
    await producer.start()
    try:
        sends = []
        for app_id, undertaking in apps.items():
            value, headers = command(app_id, undertaking)
            sends.append(
                await producer.send(
                    VOUCHERS_COMMANDS, value=value, key=app_id.encode(), headers=headers
                )
            )
        await asyncio.gather(*sends)
    finally:
        await producer.stop()

    found = await answers(kafka_bootstrap, set(apps), deadline_s=READY_DEADLINE_S)
    assert len(found) == len(apps), f"{len(apps) - len(found)} applications got no answer"
    assert all(len(v) == 1 for v in found.values()), "an application got two answers"
    kinds = [v[0][0] for v in found.values()]
    reserved = {a for a, v in found.items() if v[0][0] == m.AID_RESERVED}
    refusals = {
        m.ScreeningRefused.model_validate_json(v[0][1]).code
        for v in found.values()
        if v[0][0] == m.SCREENING_REFUSED
    }
    assert set(kinds) == {m.AID_RESERVED, m.SCREENING_REFUSED}
    assert refusals == {"budget_exhausted"}

    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT application_id, undertaking_id, instrument, aid_element_eur FROM vch_aid "
            "WHERE status = 'reserved'"
        ).fetchall()
        budget_row = conn.execute(
            "SELECT reserved_eur FROM vch_call_budget WHERE call_id = 'LOKET-2026-01' AND "
            "priority_area = 'quantum'"
        ).fetchone()
    assert budget_row is not None
    (budget_reserved,) = budget_row
    # no lost hold: every reservation announced is in the ledger, and nothing else is
    assert {r[0] for r in rows} == reserved
    assert sum(r[3] for r in rows) == budget_reserved <= BUDGET
    assert budget_reserved > BUDGET - VALUE  # the budget was used, not left idle
    for undertaking in set(apps.values()):
        mine = [r for r in rows if r[1] == undertaking]
        assert sum(r[3] for r in mine if r[2] == "de_minimis") <= Decimal(300_000)
        assert sum(r[3] for r in mine if r[2] == "gber_art28") <= Decimal(220_000)
    assert all(p.alive() for p in replicas)
