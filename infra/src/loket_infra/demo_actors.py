"""What each case's people do, through the gateway as themselves: the start-up applies,
answers its terms and reports; the facilities deliver (over HTTP or Kafka); a programme
manager reviews and cancels."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from loket_contracts.application import TERMINAL_STAGES
from loket_contracts.capacity import Delivery, SlotWithdrawn

from loket_infra.demo_summary import Outcome
from loket_infra.kafka_tools import publish_capacity
from loket_infra.platform import Platform
from loket_infra.scenario import Case, request_body

FOLLOW_DEADLINE_S = 240
POLL_S = 0.5
TERMINAL = {str(s) for s in TERMINAL_STAGES}


VIA_HTTP = {"nl-eindhoven-battery"}  # publishes through the gateway; the others use Kafka


class DemoError(RuntimeError):
    pass


def checked(resp: httpx.Response) -> httpx.Response:
    """The response, or a DemoError that names the request and what the gateway said."""
    if resp.is_error:
        raise DemoError(
            f"{resp.request.method} {resp.request.url.path} → {resp.status_code}: {resp.text}"
        )
    return resp


async def _poll_until(
    http: httpx.AsyncClient, app_id: str, stages: set[str], deadline: float
) -> dict[str, Any]:
    while True:
        resp = checked(await http.get(f"/v1/applications/{app_id}"))
        status: dict[str, Any] = resp.json()
        if status["stage"] in stages:
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"{app_id} stuck in {status['stage']}")
        await asyncio.sleep(POLL_S)


async def follow(http: httpx.AsyncClient, case: Case, stack: Platform) -> Outcome:
    key = str(uuid.uuid5(uuid.NAMESPACE_URL, f"loket-demo/{case.label}"))
    resp = checked(
        await http.post(
            "/v1/applications", json=request_body(case), headers={"Idempotency-Key": key}
        )
    )
    app_id = resp.json()["application_id"]
    deadline = time.monotonic() + FOLLOW_DEADLINE_S
    status = await _poll_until(
        http, app_id, TERMINAL | {"awaiting_acceptance", "manual_review"}, deadline
    )
    if status["stage"] == "manual_review" and case.review:
        decision = {
            "approve": case.review == "approve",
            "reason": "accounts checked"
            if case.review == "approve"
            else "rescue aid still outstanding",
        }
        checked(await http.post(f"/v1/applications/{app_id}/review", json=decision))
        status = await _poll_until(http, app_id, TERMINAL | {"awaiting_acceptance"}, deadline)
    documents: dict[str, str] = {}
    if status["stage"] == "awaiting_acceptance" and case.action == "withdraw-then-accept":
        # The facility cancels the slot (maintenance) before the applicant answers.
        first = checked(await http.get(f"/v1/applications/{app_id}/terms")).json()["sha256"]
        line = status["allocation"][0]
        await publish_capacity(
            stack.facility_access,
            [
                SlotWithdrawn(
                    facility_id=line["facility_id"],
                    sequence=1000,
                    slot_id=line["slot_id"],
                    reason="unplanned maintenance",
                )
            ],
            stack.facility_key,
        )
        while status["stage"] != "awaiting_acceptance" or status["terms_sha256"] == first:
            await asyncio.sleep(POLL_S)
            status = checked(await http.get(f"/v1/applications/{app_id}")).json()
            if time.monotonic() > deadline or status["stage"] in TERMINAL:
                break
    if status["stage"] == "awaiting_acceptance" and case.action != "silent":
        terms = checked(await http.get(f"/v1/applications/{app_id}/terms")).json()
        documents = terms["documents"]
        decision = {
            "terms_sha256": terms["sha256"],
            "decided_by": f"CEO of {case.applicant['name']}",
        }
        if case.action == "decline":
            decision["reason"] = "we found a closer facility"
        action = "decline" if case.action == "decline" else "accept"
        checked(await http.post(f"/v1/applications/{app_id}/{action}", json=decision))
    status = await _poll_until(http, app_id, TERMINAL | {"voucher_issued"}, deadline)
    if status["stage"] == "voucher_issued":
        status = await use_voucher(http, case, status, stack, deadline)
    return Outcome(case, app_id, status, documents)


_delivery_sequence = itertools.count(10_000)  # per facility strictly increasing: one counter


async def use_voucher(
    http: httpx.AsyncClient,
    case: Case,
    status: dict[str, Any],
    stack: Platform,
    deadline: float,
) -> dict[str, Any]:
    """What facilities and the applicant do with a voucher, as the case says."""
    app_id = status["application_id"]
    lines = status["allocation"]
    if case.after in ("partial", "cancel"):
        deliveries = [(lines[0], 1)]
    elif case.after in ("deliver", "overdue"):
        deliveries = [(line, line["units"]) for line in lines]
    else:
        deliveries = []
    for line, units in deliveries:
        delivery = Delivery(
            facility_id=line["facility_id"],
            sequence=next(_delivery_sequence),
            application_id=app_id,
            slot_id=line["slot_id"],
            units_delivered=units,
            delivered_at=datetime.now(UTC),
        )
        if line["facility_id"] in VIA_HTTP:  # this facility uses the API, the others Kafka
            checked(
                await http.post(
                    f"/v1/facilities/{line['facility_id']}/deliveries",
                    content=delivery.model_dump_json(),
                    headers={"content-type": "application/json"},
                )
            )
        else:
            await publish_capacity(stack.facility_access, [delivery], stack.facility_key)
    if case.after == "cancel":
        while (status.get("delivery") or {}).get("units_delivered", 0) < 1:
            await asyncio.sleep(POLL_S)
            status = checked(await http.get(f"/v1/applications/{app_id}")).json()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{app_id}: the delivery was never recorded")
        checked(
            await http.post(
                f"/v1/applications/{app_id}/cancel",
                json={"reason": "the start-up was sold; access no longer needed"},
            )
        )
    if case.after in ("deliver", "partial"):
        status = await _poll_until(http, app_id, TERMINAL | {"report_due"}, deadline)
        if status["stage"] == "report_due":
            report = {
                "summary": f"{case.applicant['name']}: measurements done, results in our "
                "next product iteration.",
                "results": ["samples characterised"],
                "submitted_by": f"CEO of {case.applicant['name']}",
            }
            checked(await http.post(f"/v1/applications/{app_id}/report", json=report))
    return await _poll_until(http, app_id, TERMINAL, deadline)
