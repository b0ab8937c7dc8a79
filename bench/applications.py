"""What the benchmarks apply with, and how they follow an application: start-ups in Austria,
three facilities abroad with room for every burst, submitted and accepted through the gateway
as their people would."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from loket_contracts.capacity import FacilityProfile, Offering, SlotPublished
from loket_contracts.topics import FACILITY_CAPACITY
from loket_infra.kafka_tools import publish_capacity, wait_caught_up
from loket_infra.stack import EmbeddedStack

from bench.stages import Stages

T0 = datetime(2027, 5, 3, 8, tzinfo=UTC)
SERVICE = "bench.beamtime"
RUN = uuid.uuid4().hex[:8]


def undertaking(i: int) -> str:
    return f"BENCH-{RUN}-{i}"


def application(i: int) -> dict[str, Any]:
    return {
        "applicant": {
            "undertaking_id": undertaking(i),
            "name": f"Bench Start-up {i}",
            "country": "AT",
            "workplace_country": "AT",
            "registered_on": "2024-02-01",
            "staff_awu": 9,
            "turnover_eur": "900000",
            "balance_sheet_eur": "700000",
            "nace_code": "C26.1",
        },
        "priority_area": "advanced-materials",
        "needs": [
            {
                "service_type": SERVICE,
                "units": 1,
                "earliest_start": T0.isoformat(),
                "latest_end": (T0 + timedelta(days=10)).isoformat(),
            }
        ],
    }


async def publish_facilities(stack: EmbeddedStack, room: int = 1000) -> None:
    """Three facilities abroad, each with one slot of `room` units (one an application)."""
    events: list[Any] = []
    for country in ("FR", "DE", "SE"):
        fid = f"bench-{country.lower()}"
        events += [
            FacilityProfile(
                facility_id=fid,
                sequence=1,
                name=f"Bench {country}",
                site=f"Site {country}",
                country=country,
                kind="RI",
                offerings=[
                    Offering(
                        offering_id="o1",
                        service_type=SERVICE,
                        unit="shift",
                        market_price_eur=1000,
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
                capacity_units=room,
            ),
        ]
    await publish_capacity(stack.facility_access, events, stack.facility_key)
    await wait_caught_up(stack.kafka_admin, "loket-allocation", FACILITY_CAPACITY)


async def submit(http: httpx.AsyncClient, i: int) -> str:
    resp = await http.post("/v1/applications", json=application(i))
    resp.raise_for_status()
    return str(resp.json()["application_id"])


async def accept(http: httpx.AsyncClient, app_id: str) -> None:
    terms = (await http.get(f"/v1/applications/{app_id}/terms")).raise_for_status().json()
    resp = await http.post(
        f"/v1/applications/{app_id}/accept", json={"terms_sha256": terms["sha256"]}
    )
    resp.raise_for_status()


ENDS = ("failed", "unallocatable", "refused", "ineligible")


async def follow(http: httpx.AsyncClient, stages: Stages, i: int) -> float:
    """Submit, accept as soon as the terms are ready, follow to the voucher: the time from
    submission to terms ready."""
    t = time.perf_counter()
    app_id = await submit(http, i)
    stage, at = await stages.reached(app_id, "awaiting_acceptance", *ENDS)
    assert stage == "awaiting_acceptance", (app_id, stage)
    await accept(http, app_id)
    stage, _ = await stages.reached(app_id, "voucher_issued", *ENDS)
    assert stage == "voucher_issued", (app_id, stage)
    return at - t
