"""After issuance, end to end: facilities deliver, the voucher pays, the applicant reports,
the file closes; a manager cancels a voucher half used and gets the rest back; listings."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from typing import Any

from loket_contracts.application import V1_WORKFLOW_NAME, V2_WORKFLOW_NAME, WORKFLOW_NAME
from loket_contracts.topics import FACILITY_CAPACITY, NOTIFICATIONS, dlq
from loket_infra.workflow_runs import open_runs, report
from temporalio.client import Client

from .conftest import Loket

REPORT = {
    "summary": "Three shifts of X-ray imaging; the defect maps changed our annealing step.",
    "results": ["defect density down 40 %"],
}


async def issued(loket: Loket, app_id: str) -> dict[str, Any]:
    terms = await loket.until_terms(app_id)
    resp = await loket.http.post(
        f"/v1/applications/{app_id}/accept", json={"terms_sha256": terms["sha256"]}
    )
    assert resp.status_code == 200, resp.text
    status = await loket.wait_stage(app_id, {"voucher_issued", "failed"})
    assert status["stage"] == "voucher_issued", status
    return status


async def listed(loket: Loket, app_id: str, **params: Any) -> dict[str, Any]:
    """The gateway's read model catches up with the workflow within moments."""
    end = time.monotonic() + 30
    while True:
        resp = await loket.http.get("/v1/applications", params=params)
        assert resp.status_code == 200, resp.text
        found = [a for a in resp.json()["items"] if a["application_id"] == app_id]
        if found:
            return found[0]
        assert time.monotonic() < end, f"{app_id} not listed for {params}"
        await asyncio.sleep(0.2)


def _delivery_of(body: bytes) -> tuple[object, object] | None:
    try:
        doc = json.loads(body)
    except ValueError:
        return None  # other tests' poison messages are in the DLQ too
    if not isinstance(doc, dict):
        return None
    return doc.get("application_id"), doc.get("sequence")


async def dead_letters(loket: Loket, app_id: str, sequence: int) -> list[dict[str, str]]:
    """Headers of the refused delivery reports of this application with this sequence."""
    end = time.monotonic() + 30
    while True:
        found = [
            headers
            for headers, body in await loket.records(dlq(FACILITY_CAPACITY))
            if _delivery_of(body) == (app_id, sequence)
        ]
        if found or time.monotonic() > end:
            return found
        await asyncio.sleep(0.2)


async def test_deliveries_redeem_the_voucher_then_report_closes_the_file(loket: Loket) -> None:
    site = await loket.facility("FR", units=6, price=3000)
    app_id = await loket.submit(loket.application(loket.applicant("AT"), (site, 3)))
    await issued(loket, app_id)

    await loket.deliver(site, app_id, units=2, sequence=10)
    await loket.deliver(site, app_id, units=2, sequence=10)  # sent twice: counted once
    await loket.deliver(site, app_id, units=5, sequence=11)  # more than booked: refused
    await loket.deliver(site, app_id, units=1, sequence=12)
    status = await loket.until(app_id, lambda s: s["stage"] == "report_due")
    delivery = status["delivery"]
    assert (delivery["units_delivered"], delivery["units_booked"]) == (3, 3)
    assert Decimal(delivery["redeemed_eur"]) == Decimal(9000)
    assert Decimal(delivery["released_eur"]) == 0
    assert "fully used" in delivery["closed_reason"]
    assert set(status["deadlines"]) == {"access_report"}

    refused = await dead_letters(loket, app_id, 11)
    assert refused and "5 unit(s) reported, 1 still booked" in refused[0]["dlq_reason"]

    too_short = await loket.http.post(f"/v1/applications/{app_id}/report", json={"summary": "ok"})
    assert too_short.status_code == 422
    resp = await loket.http.post(f"/v1/applications/{app_id}/report", json=REPORT)
    assert resp.status_code == 200, resp.text
    status = await loket.wait_stage(app_id, {"closed"})
    assert status["reasons"][0].startswith("access report received")
    again = await loket.http.post(f"/v1/applications/{app_id}/report", json=REPORT)
    assert again.status_code in (404, 409)  # the file is closed

    row = await listed(loket, app_id, stage="closed", facility_country="FR")
    assert row["applicant_country"] == "AT" and row["voucher_id"] == status["voucher_id"]

    # Who was told to act, on the notifications topic
    notices = [
        json.loads(body)
        for headers, body in await loket.records(NOTIFICATIONS)
        if headers.get("ce_correlationid") == app_id
    ]
    told = {(n["audience"], n["kind"], n["facility_id"]) for n in notices}
    assert {
        ("applicant", "terms_ready", None),
        ("applicant", "voucher_issued", None),
        ("facility", "booking_confirmed", site.facility_id),
        ("applicant", "access_report_due", None),
    } <= told


async def test_manager_cancels_a_half_used_voucher_and_the_rest_goes_back(loket: Loket) -> None:
    site = await loket.facility("DE", units=4, price=2000)
    applicant = loket.applicant("PL")
    app_id = await loket.submit(loket.application(applicant, (site, 4)))
    await issued(loket, app_id)
    await loket.deliver(site, app_id, units=1, sequence=20)
    await loket.until(app_id, lambda s: (s["delivery"] or {}).get("units_delivered") == 1)

    forged = await loket.http.post(
        f"/v1/applications/{app_id}/cancel",
        json={"reason": "x"},
        headers={"Authorization": "Bearer wrong"},
    )
    assert forged.status_code == 401 and forged.headers["WWW-Authenticate"].startswith("Bearer")
    stranger = await loket.http.post(
        f"/v1/applications/{app_id}/cancel",
        json={"reason": "x"},
        headers={"Authorization": f"Bearer {loket.stack.identity.applicant('PL-stranger')}"},
    )
    assert stranger.status_code == 404  # another organisation's application does not exist
    resp = await loket.http.post(
        f"/v1/applications/{app_id}/cancel",
        json={"reason": "facility audit found misuse", "by": "M. Manager"},
        headers={"Authorization": f"Bearer {loket.stack.identity.role('manager')}"},
    )
    assert resp.status_code == 200, resp.text
    status = await loket.wait_stage(app_id, {"cancelled"})
    assert status["reasons"] == ["cancelled by M. Manager: facility audit found misuse"]
    delivery = status["delivery"]
    assert Decimal(delivery["redeemed_eur"]) == Decimal(2000)
    assert Decimal(delivery["released_eur"]) == Decimal(6000)  # 3 unused units
    assert Decimal(status["aid"]["aid_element_eur"]) == Decimal(2000)

    # The aid recorded for the single undertaking is what was used ...
    headroom = await loket.http.get(f"/v1/undertakings/{applicant['undertaking_id']}/headroom")
    assert Decimal(headroom.json()["points"][0]["de_minimis_used_eur"]) == Decimal(2000)
    # ... and the 3 undelivered units are on the market again.
    catalogue = await loket.http.get("/v1/catalogue", params={"service_type": site.service_type})
    assert catalogue.json()["slots"][0]["free_units"] == 3
    # A delivery reported after the cancellation is refused: nothing is booked any more.
    await loket.deliver(site, app_id, units=1, sequence=21)
    refused = await dead_letters(loket, app_id, 21)
    assert refused and "the booking is completed" in refused[0]["dlq_reason"]


async def test_listing_filters_by_stage_and_country(loket: Loket) -> None:
    site = await loket.facility("SE", units=2)
    app_id = await loket.submit(loket.application(loket.applicant("CZ"), (site, 1)))
    row = await listed(loket, app_id, applicant_country="CZ")
    assert row["stage"] in {
        "submitted",
        "eligibility",
        "allocation",
        "screening",
        "terms",
        "awaiting_acceptance",
    }
    await loket.until_terms(app_id)
    row = await listed(loket, app_id, stage="awaiting_acceptance", facility_country="SE")
    assert row["facility_countries"] == ["SE"]
    others = await loket.http.get(
        "/v1/applications", params={"stage": "awaiting_acceptance", "applicant_country": "MT"}
    )
    assert app_id not in [a["application_id"] for a in others.json()["items"]]
    bad = await loket.http.get("/v1/applications", params={"stage": "nonsense"})
    assert bad.status_code == 422
    assert bad.headers["content-type"] == "application/problem+json"


async def test_new_applications_run_the_current_workflow_type(loket: Loket) -> None:
    """The retiring type only finishes old runs: `loket workflows open` tells when it may go."""
    site = await loket.facility("BE", units=2, price=1000)
    app_id = await loket.submit(loket.application(loket.applicant("HR"), (site, 1)))
    await loket.until_terms(app_id)
    client = await Client.connect(loket.stack.temporal_address, namespace=loket.stack.namespace)
    described = await client.get_workflow_handle(app_id).describe()
    assert described.workflow_type == WORKFLOW_NAME
    end = time.monotonic() + 60
    while (counts := await open_runs(client))[WORKFLOW_NAME] == 0:  # visibility catches up
        assert time.monotonic() < end, counts
        await asyncio.sleep(0.2)
    told = await report(loket.stack.temporal_address, loket.stack.namespace)
    for retiring in (V2_WORKFLOW_NAME, V1_WORKFLOW_NAME):
        assert counts[retiring] == 0
        assert f"{retiring} has no open run: it can be deleted" in told
