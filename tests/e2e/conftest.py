"""The whole platform as processes on 127.0.0.1: Apache Kafka (or tansu with LOKET_KAFKA=tansu),
the Temporal dev server, the four services, worker, bridge and gateway, every service database
on PostgreSQL. Tests drive it through HTTP and Kafka only, like its users."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from loket_contracts.application import TERMINAL_STAGES
from loket_contracts.capacity import FacilityProfile, Offering, SlotPublished
from loket_contracts.envelope import from_kafka, header_map
from loket_contracts.topics import FACILITY_CAPACITY
from loket_infra.identities import ActingAs, IdentityProvider, running_provider
from loket_infra.kafka_tools import partitions, publish_capacity, wait_caught_up
from loket_infra.stack import SERVICES, EmbeddedStack, StackConfig
from loket_messaging import facility_keys

pytestmark = pytest.mark.e2e
T0 = datetime(2027, 5, 3, 8, tzinfo=UTC)
TERMINAL = {str(s) for s in TERMINAL_STAGES}
# How long a poll may wait for the platform: it returns as soon as the condition holds, so a
# generous bound costs nothing on an idle machine and keeps a loaded one (load 10+) green.
PATIENCE_S = 300.0


def _postgres_urls(run: str) -> dict[str, str]:
    """One database per service, named for this run: two runs on one host never touch each
    other's databases."""
    admin_url = os.environ.get("LOKET_TEST_PG")
    if not admin_url:
        if os.environ.get("CI"):
            pytest.fail("LOKET_TEST_PG is not set: run the suite with `make test`")
        pytest.skip("no PostgreSQL (LOKET_TEST_PG); `make test` sets it up")
    urls = {}
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for name in [*SERVICES, "gateway"]:
            db = f"loket_{run}_{name}"
            conn.execute(f'CREATE DATABASE "{db}"')
            urls[name] = admin_url.rsplit("/", 1)[0] + "/" + db
    return urls


def _drop_databases(urls: dict[str, str]) -> None:
    with psycopg.connect(os.environ["LOKET_TEST_PG"], autocommit=True) as conn:
        for url in urls.values():
            conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


@pytest.fixture(scope="session")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityProvider]:
    """One real Keycloak for every platform the e2e tests start (it is stateless for them)."""
    with running_provider(tmp_path_factory.mktemp("keycloak")) as provider:
        yield provider


@contextlib.contextmanager
def platform(tmp: Path, identity: IdentityProvider, **config: Any) -> Iterator[EmbeddedStack]:
    """A whole platform of its own on PostgreSQL databases of its own, stopped and dropped
    after use."""
    urls = _postgres_urls(f"e2e_{uuid.uuid4().hex[:8]}")
    try:
        with EmbeddedStack(
            StackConfig(data_dir=tmp / "stack", database_urls=urls, identity=identity, **config)
        ) as s:
            yield s
    finally:
        _drop_databases(urls)


def acting_client(stack: EmbeddedStack) -> httpx.AsyncClient:
    """An HTTP client that acts, for each request, as whoever may make it (see actors.py)."""
    return httpx.AsyncClient(base_url=stack.gateway_url, timeout=30, auth=ActingAs(stack.identity))


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, identity: IdentityProvider
) -> Iterator[EmbeddedStack]:
    # Room for the fuzzer's hundreds of writes as one manager; test_confidentiality's rate
    # test sends more than the burst.
    with platform(
        tmp_path_factory.mktemp("loket"), identity, writes_per_minute=600, write_burst=300
    ) as running:
        yield running


@dataclass
class Facility:
    facility_id: str
    service_type: str
    slot_id: str
    country: str


class Loket:
    """What a test can do to the platform: HTTP calls and Kafka records, nothing internal."""

    def __init__(self, stack: EmbeddedStack, http: httpx.AsyncClient) -> None:
        self.stack, self.http = stack, http

    async def facility(
        self,
        country: str,
        kind: str = "RI",
        units: int = 6,
        price: int = 3000,
        unit: str = "shift",
        service_type: str | None = None,
    ) -> Facility:
        """A new facility with one offering (its own service type unless given) and one slot."""
        tag = uuid.uuid4().hex[:8]
        fid, stype = f"fac-{country.lower()}-{tag}", service_type or f"test.svc-{tag}"
        await publish_capacity(
            self.stack.facility_access,
            [
                FacilityProfile(
                    facility_id=fid,
                    sequence=1,
                    name=f"Facility {tag}",
                    site=f"Site {tag}",
                    country=country,
                    kind=kind,
                    offerings=[
                        Offering(
                            offering_id="o1",
                            service_type=stype,
                            unit=unit,
                            market_price_eur=price,
                            access_modes=["physical"],
                        )
                    ],
                ),
                SlotPublished(
                    facility_id=fid,
                    sequence=2,
                    slot_id=f"{fid}-s1",
                    offering_id="o1",
                    start=T0,
                    end=T0 + timedelta(days=3),
                    capacity_units=units,
                ),
            ],
            self.stack.facility_key,
        )
        await self.caught_up("loket-allocation", FACILITY_CAPACITY)
        return Facility(fid, stype, f"{fid}-s1", country)

    async def caught_up(self, group: str, topic: str) -> None:
        await wait_caught_up(self.stack.kafka_admin, group, topic, deadline_s=PATIENCE_S)

    @staticmethod
    def applicant(
        country: str = "AT", undertaking_id: str | None = None, **more: Any
    ) -> dict[str, Any]:
        return {
            "undertaking_id": undertaking_id or f"{country}-{uuid.uuid4().hex[:8]}",
            "name": "Test Start-up",
            "country": country,
            "workplace_country": country,
            "registered_on": "2024-02-01",
            "staff_awu": 9,
            "turnover_eur": "900000",
            "balance_sheet_eur": "700000",
            "nace_code": "C26.1",
            **more,
        }

    @staticmethod
    def application(
        applicant: dict[str, Any], *needs: tuple[Facility, int], area: str = "advanced-materials"
    ) -> dict[str, Any]:
        return {
            "applicant": applicant,
            "priority_area": area,
            "needs": [
                {
                    "service_type": f.service_type,
                    "units": units,
                    "earliest_start": T0.isoformat(),
                    "latest_end": (T0 + timedelta(days=10)).isoformat(),
                }
                for f, units in needs
            ],
        }

    async def submit(self, body: dict[str, Any], key: str | None = None) -> str:
        headers = {"Idempotency-Key": key} if key else {}
        resp = await self.http.post("/v1/applications", json=body, headers=headers)
        assert resp.status_code == 202, resp.text
        return str(resp.json()["application_id"])

    async def wait_stage(
        self, app_id: str, stages: set[str], deadline_s: float = PATIENCE_S
    ) -> dict[str, Any]:
        end = time.monotonic() + deadline_s
        while True:
            resp = await self.http.get(f"/v1/applications/{app_id}")
            assert resp.status_code == 200, resp.text
            status: dict[str, Any] = resp.json()
            if status["stage"] in stages:
                return status
            assert time.monotonic() < end, f"{app_id} stuck in {status['stage']}: {status}"
            await asyncio.sleep(0.2)

    async def until(
        self, app_id: str, check: Callable[[dict[str, Any]], bool], deadline_s: float = PATIENCE_S
    ) -> dict[str, Any]:
        """Poll the status until `check` holds (any condition, not only a stage)."""
        end = time.monotonic() + deadline_s
        while True:
            status: dict[str, Any] = (await self.http.get(f"/v1/applications/{app_id}")).json()
            if check(status):
                return status
            assert time.monotonic() < end, f"{app_id}: {status['stage']} {status.get('delivery')}"
            await asyncio.sleep(0.2)

    async def deliver(self, site: Facility, app_id: str, units: int, sequence: int) -> None:
        """The facility reports a delivery through the gateway."""
        resp = await self.http.post(
            f"/v1/facilities/{site.facility_id}/deliveries",
            json={
                "facility_id": site.facility_id,
                "sequence": sequence,
                "application_id": app_id,
                "slot_id": site.slot_id,
                "units_delivered": units,
                "delivered_at": T0.isoformat(),
            },
        )
        assert resp.status_code == 202, resp.text

    async def until_terms(self, app_id: str) -> dict[str, Any]:
        status = await self.wait_stage(app_id, TERMINAL | {"awaiting_acceptance"})
        assert status["stage"] == "awaiting_acceptance", status
        resp = await self.http.get(f"/v1/applications/{app_id}/terms")
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    async def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
        sign: bool = True,
    ) -> None:
        """Write a raw record as the operator (a super user: tests inject records no service
        would write). A facility event is signed with its facility's key, as the facility would
        (over the bytes given) unless it carries a signature already or `sign` is False."""
        headers = list(headers or [])
        seen = header_map(headers)
        source = seen.get("ce_source", "")
        if sign and topic == FACILITY_CAPACITY and source.startswith("facility/"):
            if facility_keys.HEADER not in seen:
                event = from_kafka(seen, value)
                key_of = self.stack.facility_key(source.removeprefix("facility/"))
                headers.append(
                    (facility_keys.HEADER, facility_keys.signature(key_of, event).encode())
                )
        producer = AIOKafkaProducer(**self.stack.kafka_admin.client_kwargs())
        await producer.start()
        try:
            await producer.send_and_wait(topic, value=value, key=key, headers=headers)
        finally:
            await producer.stop()

    async def records(self, topic: str) -> list[tuple[dict[str, str], bytes]]:
        """Every record now in `topic`, read without joining any consumer group."""
        parts = await partitions(self.stack.kafka_admin, topic)
        consumer = AIOKafkaConsumer(
            **self.stack.kafka_admin.client_kwargs(),
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
        )
        await consumer.start()
        try:
            consumer.assign(parts)
            await consumer.seek_to_beginning(*parts)
            ends = await consumer.end_offsets(parts)
            out: list[tuple[dict[str, str], bytes]] = []
            deadline = time.monotonic() + 30
            while [tp for tp in parts if await consumer.position(tp) < ends[tp]]:
                assert time.monotonic() < deadline, f"could not read {topic} to its end"
                batch = await consumer.getmany(timeout_ms=200)
                for recs in batch.values():
                    out += [(header_map(r.headers), r.value) for r in recs]
            return out
        finally:
            await consumer.stop()


@pytest.fixture
async def loket(stack: EmbeddedStack) -> AsyncIterator[Loket]:
    async with acting_client(stack) as http:
        yield Loket(stack, http)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).parent.name == "e2e":
            item.add_marker(pytest.mark.e2e)
