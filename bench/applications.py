"""What the benchmarks apply with, and how they follow an application: start-ups in Austria,
three facilities abroad with room for every burst, submitted and accepted through the gateway
as their people would."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from loket_contracts.capacity import FacilityProfile, SlotPublished
from loket_contracts.topics import FACILITY_CAPACITY
from loket_infra.kafka_tools import publish_capacity, wait_caught_up
from loket_infra.stack import EmbeddedStack
from loket_testing import examples

from bench.stages import Stages

SERVICE = "bench.beamtime"
RUN = uuid.uuid4().hex[:8]


def undertaking(i: int) -> str:
    return f"BENCH-{RUN}-{i}"


def application(i: int) -> dict[str, Any]:
    """A valid body (`loket_testing.examples`) for start-up `i`, whose person the bench signs
    in as, asking for one unit."""
    body = examples.application(SERVICE, units=1)
    body["applicant"] |= {"undertaking_id": undertaking(i), "name": f"Bench Start-up {i}"}
    return body


async def publish_facilities(stack: EmbeddedStack, room: int = 1000) -> None:
    """Three facilities abroad, each with one slot of `room` units (one an application)."""
    events: list[Any] = []
    for country in ("FR", "DE", "SE"):
        facility = examples.Facility(
            country, room, 1000, facility_id=f"bench-{country.lower()}", service_type=SERVICE
        )
        events += [
            FacilityProfile.model_validate(facility.profile),
            SlotPublished.model_validate(facility.slot),
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


async def follow(
    http: httpx.AsyncClient,
    stages: Stages,
    i: int,
    at_terms: Callable[[], Awaitable[None]] | None = None,
) -> float:
    """Submit, accept as soon as the terms are ready (after `at_terms`, if given), follow to
    the voucher: the time from submission to terms ready."""
    t = time.perf_counter()
    app_id = await submit(http, i)
    stage, at = await stages.reached(app_id, "awaiting_acceptance", *ENDS)
    assert stage == "awaiting_acceptance", (app_id, stage)
    if at_terms is not None:
        await at_terms()
    await accept(http, app_id)
    stage, _ = await stages.reached(app_id, "voucher_issued", *ENDS)
    assert stage == "voucher_issued", (app_id, stage)
    return at - t
